-- title: A recharge transaction's amount differs from the recharge's (review by hand)
-- severity: error
-- fix: none: review the package and the payment, then correct with an adjustment
SELECT 'AMOUNT_MISMATCH'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       (r.amount - t.amount)::bigint AS credits,
       format('recharge of %s credits, transaction %s granted %s', r.amount, t.id, t.amount) AS detail,
       NULL::text AS fix
FROM credits_ops.recharge_scope r
JOIN credits_ops.app_transaction t ON t.related_recharge_id = r.id AND t.type = 'recharge'
WHERE t.amount <> r.amount
ORDER BY r.created_at;
