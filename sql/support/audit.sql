-- The user's most recent entries in the audit log. $1: user id.
SELECT l.logged_at, l.operator, l.reason, l.command, l.action, l.recharge_id,
       l.credits_delta, l.balance_before, l.balance_after
FROM credits_ops.repair_log l
WHERE l.user_id = $1
ORDER BY l.logged_at DESC, l.id DESC
LIMIT 20;
