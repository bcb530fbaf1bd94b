-- Every policy on the credits tables: who, for what, permissive or
-- restrictive, and its USING / WITH CHECK expressions.
SELECT p.tablename::text AS table_name,
       p.policyname::text AS policy,
       p.permissive::text AS permissive,
       array_to_string(p.roles, ', ') AS roles,
       p.cmd::text AS command,
       p.qual AS using_expr,
       p.with_check AS with_check
FROM pg_policies p
WHERE p.schemaname = 'public'
  AND p.tablename IN ('credit_package', 'credit_recharge', 'credit_transaction',
                      'user_credit_balance', 'stripe_webhook_event')
ORDER BY p.tablename, p.policyname;
