-- The caught trigger errors older than $1 (timestamptz), for
-- `credits audit prune` (few rows: one statement).
DELETE FROM credits_ops.balance_audit_error e WHERE e.at < $1::timestamptz;
