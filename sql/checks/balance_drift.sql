-- title: Cached balance differs from the sum of the user's ledger
-- severity: error
-- fix: credits fix-user <user_id>
-- Reads user_facts (V013): per user, the ledger's sum and the cached
-- balance, at any age (the recharge window does not apply, credits.user_id
-- does). In psql: SET search_path = credits_ops, public;
SELECT 'BALANCE_DRIFT'::text AS check_name,
       'error'::text AS severity,
       NULL::text AS recharge_id,
       u.user_id,
       NULL::text AS payment_intent_id,
       (u.ledger_sum - u.balance)::bigint AS credits,
       format('balance %s, ledger sum %s', u.balance, u.ledger_sum) AS detail,
       'credits fix-user ' || u.user_id AS fix
FROM user_facts u
WHERE u.has_balance_row AND u.balance IS DISTINCT FROM u.ledger_sum
ORDER BY u.user_id;
