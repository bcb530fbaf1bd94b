-- title: A recharge transaction's amount differs from the recharge's (review by hand)
-- severity: error
-- fix: none: review the package and the payment, then correct with an adjustment
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
-- The transactions themselves are read only for the recharges whose
-- smallest or largest credit differs from their amount, by index (OFFSET 0
-- keeps the planner from hashing the whole ledger for a few recharges).
SELECT 'AMOUNT_MISMATCH'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       (r.amount - t.amount)::bigint AS credits,
       format('recharge of %s credits, transaction %s granted %s', r.amount, t.id, t.amount) AS detail,
       NULL::text AS fix
FROM recharge_facts r
JOIN LATERAL (SELECT t.id, t.amount FROM credits_ops.app_transaction t
              WHERE t.related_recharge_id = r.id AND t.type = 'recharge' AND t.amount <> r.amount
              OFFSET 0) t ON true
WHERE r.smallest_credit <> r.amount OR r.largest_credit <> r.amount
ORDER BY r.created_at;
