-- title: Refunded recharge whose credits are still in the ledger
-- severity: warning
-- fix: none: debit with a `refund` transaction once the refund is confirmed in Stripe
SELECT 'REFUNDED_NOT_DEBITED'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       t.net::bigint AS credits,
       format('refunded, but its transactions still grant %s credits', t.net) AS detail,
       NULL::text AS fix
FROM credits_ops.recharge_scope r
JOIN LATERAL (SELECT sum(ct.amount) AS net
              FROM credits_ops.app_transaction ct
              WHERE ct.related_recharge_id = r.id) t ON t.net > 0
WHERE r.status = 'refunded'
ORDER BY r.created_at;
