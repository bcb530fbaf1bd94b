-- Row Level Security state of each credits table in public (absent ones
-- are left out: stripe_webhook_event is optional).
SELECT c.relname::text AS table_name,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND c.relname IN ('credit_package', 'credit_recharge', 'credit_transaction',
                    'user_credit_balance', 'stripe_webhook_event')
  AND c.relkind IN ('r', 'p')
ORDER BY c.relname;
