-- title: Row Level Security is off on a credits table: any signed-in user can write it through the REST API
-- severity: error
-- scope: database
-- fix: credits rls-fix
-- Supabase grants anon and authenticated ALL on new tables in public, so with
-- RLS off a user can insert a credit_transaction and mint credits.
SELECT 'RLS_DISABLED'::text AS check_name,
       'error'::text AS severity,
       NULL::text AS recharge_id,
       NULL::text AS user_id,
       NULL::text AS payment_intent_id,
       NULL::bigint AS credits,
       format('RLS is disabled on %s.%I', c.relnamespace::regnamespace, c.relname) AS detail,
       'credits rls-fix'::text AS fix
FROM credits_ops.app_tables() a
JOIN pg_class c ON c.oid = a.relid
  AND NOT c.relrowsecurity
ORDER BY c.oid::regclass::text;
