-- title: Credited (a recharge transaction exists) but the recharge is not completed
-- severity: warning
-- fix: credits fix-user <user_id>
SELECT 'CREDITED_NOT_COMPLETED'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('status is %s, but the credits were granted', r.status) AS detail,
       'credits fix-user ' || r.user_id AS fix
FROM credits_ops.recharge_scope r
WHERE r.status IN ('pending', 'failed', 'canceled')
  AND EXISTS (SELECT FROM credits_ops.app_transaction t
              WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
ORDER BY r.created_at;
