-- title: A user with transactions has no balance row
-- severity: error
-- fix: credits fix-user <user_id>
-- Reads user_facts (V013): per user, the ledger's sum and the cached
-- balance, at any age (the recharge window does not apply, credits.user_id
-- does). In psql: SET search_path = credits_ops, public;
SELECT 'MISSING_BALANCE_ROW'::text AS check_name,
       'error'::text AS severity,
       NULL::text AS recharge_id,
       u.user_id,
       NULL::text AS payment_intent_id,
       u.ledger_sum::bigint AS credits,
       format('%s transactions summing to %s, no user_credit_balance row', u.ledger_n, u.ledger_sum) AS detail,
       'credits fix-user ' || u.user_id AS fix
FROM user_facts u
WHERE NOT u.has_balance_row AND u.ledger_n > 0
ORDER BY u.user_id;
