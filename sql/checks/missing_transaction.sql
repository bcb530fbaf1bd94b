-- title: Completed recharge with no recharge transaction: the user paid and never got the credits
-- severity: error
-- fix: credits fix-user <user_id>
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
SELECT 'MISSING_TRANSACTION'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('completed at %s without a recharge transaction', date_trunc('second', r.created_at)) AS detail,
       'credits fix-user ' || r.user_id AS fix
FROM recharge_facts r
WHERE r.status = 'completed' AND r.credits_n = 0
ORDER BY r.created_at;
