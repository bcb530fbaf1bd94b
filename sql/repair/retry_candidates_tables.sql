-- The recharges `credits retry-failed` looks at, by id, read from the
-- recharges table (when the kept facts cannot be used, or with --rescan):
-- failed since $1, and with $2 pending for longer than $3, without their
-- transaction. The same rows as sql/repair/retry_candidates.sql.
SELECT c.recharge_id
FROM credits_ops.retry_candidates($1, $2, $3::text::interval) c
ORDER BY c.recharge_id;
