-- One batch of `credits audit prune`, in a transaction of its own: at most
-- $2 (bigint) of the trail's rows older than $1 (timestamptz), found through
-- the BRIN index on their time. Returns the rows deleted; 0 means done.
WITH doomed AS (
    SELECT a.xact_id, a.user_id
    FROM credits_ops.balance_audit a
    WHERE a.at < $1::timestamptz
    LIMIT $2::bigint
), deleted AS (
    DELETE FROM credits_ops.balance_audit a
    USING doomed d
    WHERE a.xact_id = d.xact_id AND a.user_id = d.user_id
    RETURNING 1
)
SELECT count(*) AS deleted FROM deleted;
