-- title: Completed recharge with no recharge transaction: the user paid and never got the credits
-- severity: error
-- fix: credits fix-user <user_id>
-- Every check returns the same columns: check_name, severity, recharge_id,
-- user_id, payment_intent_id, credits, detail, fix. Scope: credits_ops.recharge_scope.
SELECT 'MISSING_TRANSACTION'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('completed at %s without a recharge transaction', date_trunc('second', r.created_at)) AS detail,
       'credits fix-user ' || r.user_id AS fix
FROM credits_ops.recharge_scope r
WHERE r.status = 'completed'
  AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                  WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
ORDER BY r.created_at;
