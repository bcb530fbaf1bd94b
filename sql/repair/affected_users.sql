-- The users `credits bulk-fix` repairs: those with a recharge created since
-- $1 that fix-user would change (completed without its transaction,
-- credited but pending/failed, and with $2 a duplicate to reverse), and
-- every user whose cached balance differs from the ledger or is missing.
-- credits: what crediting their completed recharges grants (for --max-credits).
WITH missing AS (
    SELECT r.user_id, sum(r.amount)::bigint AS credits
    FROM credits_ops.app_recharge r
    WHERE r.created_at >= $1 AND r.status = 'completed'
      AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                      WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
    GROUP BY r.user_id
), credited_open AS (
    SELECT r.user_id
    FROM credits_ops.app_recharge r
    WHERE r.created_at >= $1 AND r.status IN ('pending', 'failed')
      AND EXISTS (SELECT FROM credits_ops.app_transaction t
                  WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
), duplicated AS (
    SELECT r.user_id
    FROM credits_ops.app_recharge r
    JOIN credits_ops.app_transaction t ON t.related_recharge_id = r.id
    WHERE $2 AND r.created_at >= $1 AND t.type IN ('recharge', 'adjustment')
    GROUP BY r.id, r.user_id, r.amount
    HAVING count(*) FILTER (WHERE t.type = 'recharge') > 1 AND sum(t.amount) > r.amount
), ledger AS (
    SELECT t.user_id, sum(t.amount) AS total FROM credits_ops.app_transaction t GROUP BY t.user_id
), drifted AS (
    SELECT coalesce(l.user_id, b.user_id) AS user_id
    FROM ledger l
    FULL JOIN credits_ops.app_balance b ON b.user_id = l.user_id
    WHERE b.balance IS DISTINCT FROM coalesce(l.total, 0)
      AND NOT (l.user_id IS NULL AND b.balance = 0)
)
SELECT u.user_id, coalesce(m.credits, 0)::bigint AS credits
FROM (SELECT user_id FROM missing
      UNION SELECT user_id FROM credited_open
      UNION SELECT user_id FROM duplicated
      UNION SELECT user_id FROM drifted) u
LEFT JOIN missing m ON m.user_id = u.user_id
ORDER BY u.user_id;
