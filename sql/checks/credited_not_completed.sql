-- title: Credited (a recharge transaction exists) but the recharge is not completed
-- severity: warning
-- fix: credits fix-user <user_id>
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
SELECT 'CREDITED_NOT_COMPLETED'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('status is %s, but the credits were granted', r.status) AS detail,
       'credits fix-user ' || r.user_id AS fix
FROM recharge_facts r
WHERE r.status IN ('pending', 'failed', 'canceled') AND r.credits_n > 0
ORDER BY r.created_at;
