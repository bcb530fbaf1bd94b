-- What each API role may do to each credits table, by grant (directly, via
-- PUBLIC or a role it inherits from). RLS decides which rows on top.
-- $1 anon role, $2 user role, $3 webhook role (each may not exist: skipped).
SELECT c.relname::text AS table_name,
       r.rolname::text AS role,
       has_table_privilege(r.oid, c.oid, 'SELECT') AS can_select,
       has_table_privilege(r.oid, c.oid, 'INSERT') AS can_insert,
       has_table_privilege(r.oid, c.oid, 'UPDATE') AS can_update,
       has_table_privilege(r.oid, c.oid, 'DELETE') AS can_delete,
       r.rolbypassrls AS bypasses_rls
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN pg_roles r
WHERE n.nspname = 'public'
  AND c.relname IN ('credit_package', 'credit_recharge', 'credit_transaction',
                    'user_credit_balance', 'stripe_webhook_event')
  AND c.relkind IN ('r', 'p')
  AND r.rolname IN ($1, $2, $3)
ORDER BY c.relname, array_position(ARRAY[$1, $2, $3]::text[], r.rolname::text);
