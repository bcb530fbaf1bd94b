-- The audit log credits_ops.repair_log, newest first, for `credits log`.
-- $1 since (timestamptz): entries logged at or after it.
-- $2 user id (text), $3 reason (text, exact), $4 action (text, exact):
--    each NULL when that filter is not given.
-- $5 how many rows at most (bigint; NULL for every row: LIMIT NULL is LIMIT ALL).
-- Only bind parameters: a filter not given is NULL, never left out of the text.
SELECT l.logged_at, l.operator, l.reason, l.command, l.action,
       l.recharge_id, l.user_id, l.credits_delta, l.balance_before,
       l.balance_after, l.detail
FROM credits_ops.repair_log l
WHERE l.logged_at >= $1::timestamptz
  AND ($2::text IS NULL OR l.user_id = $2::text)
  AND ($3::text IS NULL OR l.reason = $3::text)
  AND ($4::text IS NULL OR l.action = $4::text)
ORDER BY l.logged_at DESC, l.id DESC
LIMIT $5::bigint;
