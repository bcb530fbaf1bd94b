-- The balance audit trail (V014's view credits_ops.balance_writer), newest
-- first, for `credits log --writers` and `credits support`: per transaction
-- and user, who wrote (role and application_name), how the balance and the
-- ledger moved, the recharge status changes, whether a credits repair wrote
-- it, and whether the balance moved without the ledger.
-- $1 since (timestamptz), $2 user id (text, NULL for all), $3 limit
-- (bigint, NULL for all).
SELECT w.at, w.xact_id, w.user_id, w.db_role, w.application_name,
       w.balance_before, w.balance_after, w.balance_delta, w.ledger_delta, w.ledger_rows,
       w.status_changes, w.by_credits, w.moved_without_ledger
FROM credits_ops.balance_writer w
WHERE w.at >= $1::timestamptz
  AND ($2::text IS NULL OR w.user_id = $2::text)
ORDER BY w.at DESC, w.xact_id DESC, w.user_id
LIMIT $3::bigint;
