-- title: Refunded recharge whose credits are still in the ledger
-- severity: warning
-- fix: none: debit with a `refund` transaction once the refund is confirmed in Stripe
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
SELECT 'REFUNDED_NOT_DEBITED'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.net::bigint AS credits,
       format('refunded, but its transactions still grant %s credits', r.net) AS detail,
       NULL::text AS fix
FROM recharge_facts r
WHERE r.status = 'refunded' AND r.net > 0
ORDER BY r.created_at;
