-- title: A user with transactions has no balance row
-- fix: credits fix-user <user_id>
SELECT 'MISSING_BALANCE_ROW'::text AS check_name,
       'error'::text AS severity,
       NULL::uuid AS recharge_id,
       t.user_id,
       NULL::text AS payment_intent_id,
       sum(t.amount)::bigint AS credits,
       format('%s transactions summing to %s, no user_credit_balance row', count(*), sum(t.amount)) AS detail,
       'credits fix-user ' || t.user_id AS fix
FROM public.credit_transaction t
WHERE NOT EXISTS (SELECT FROM public.user_credit_balance b WHERE b.user_id = t.user_id)
  AND (nullif(current_setting('credits.user_id', true), '') IS NULL
       OR t.user_id = nullif(current_setting('credits.user_id', true), '')::uuid)
GROUP BY t.user_id
ORDER BY t.user_id;
