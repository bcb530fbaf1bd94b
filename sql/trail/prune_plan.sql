-- What `credits audit prune` would delete: the trail's rows older than $1
-- (timestamptz), and the caught trigger errors older than it.
SELECT (SELECT count(*) FROM credits_ops.balance_audit a WHERE a.at < $1::timestamptz) AS rows,
       (SELECT min(a.at) FROM credits_ops.balance_audit a WHERE a.at < $1::timestamptz) AS oldest,
       (SELECT count(*) FROM credits_ops.balance_audit_error e WHERE e.at < $1::timestamptz) AS errors;
