-- The balance audit trail (V014), newest first, for `credits log --writers`
-- and `credits support`: per transaction and user, who wrote (role and
-- application_name), how the balance and the ledger moved, the recharge
-- status changes, and whether the check BALANCE_MOVED_WITHOUT_LEDGER flags
-- it (by_credits: a credits repair in the same transaction, never flagged).
-- $1 since (timestamptz), $2 user id (text, NULL for all), $3 limit
-- (bigint, NULL for all).
SELECT a.at, a.xact_id, a.user_id, a.db_role, a.application_name,
       a.balance_before, a.balance_after, a.balance_delta, a.ledger_delta, a.ledger_rows,
       a.status_changes,
       c.by_credits,
       a.balance_delta <> a.ledger_delta AND NOT c.by_credits AS moved_without_ledger
FROM credits_ops.balance_audit a
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT FROM credits_ops.repair_log l
                   WHERE l.xact_id = a.xact_id AND l.user_id = a.user_id) AS by_credits
) c
WHERE a.at >= $1::timestamptz
  AND ($2::text IS NULL OR a.user_id = $2::text)
ORDER BY a.at DESC, a.xact_id DESC, a.user_id
LIMIT $3::bigint;
