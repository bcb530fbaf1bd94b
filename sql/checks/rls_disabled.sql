-- title: Row Level Security is off on a credits table: any signed-in user can write it through the REST API
-- severity: error
-- fix: credits rls-fix
-- Supabase grants anon and authenticated ALL on new tables in public, so with
-- RLS off a user can insert a credit_transaction and mint credits.
SELECT 'RLS_DISABLED'::text AS check_name,
       'error'::text AS severity,
       NULL::uuid AS recharge_id,
       NULL::uuid AS user_id,
       NULL::text AS payment_intent_id,
       NULL::bigint AS credits,
       format('RLS is disabled on public.%I', c.relname) AS detail,
       'credits rls-fix'::text AS fix
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND c.relname IN ('credit_package', 'credit_recharge', 'credit_transaction',
                    'user_credit_balance', 'stripe_webhook_event')
  AND c.relkind IN ('r', 'p')
  AND NOT c.relrowsecurity
ORDER BY c.relname;
