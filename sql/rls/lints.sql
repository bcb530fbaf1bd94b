-- The Supabase database linter (splinter) lints that concern the credits
-- tables and the functions that write them, one row per finding.
-- $1 anon role, $2 user role (roles that do not exist are skipped).
WITH credits_tables AS (
    SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relname::text AS relname,
           n.nspname::text AS schema_name, c.relrowsecurity AS rls
    FROM credits_ops.app_tables() a
    JOIN pg_class c ON c.oid = a.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
),
api_roles AS (
    SELECT r.oid, r.rolname::text AS name FROM pg_roles r WHERE r.rolname IN ($1, $2)
),
policies AS (
    SELECT t.name AS table_name, p.policyname::text AS policy, p.permissive, p.cmd, p.roles,
           coalesce(p.qual, '') AS qual, coalesce(p.with_check, '') AS with_check
    FROM pg_policies p
    JOIN credits_tables t ON t.relname = p.tablename AND t.schema_name = p.schemaname
),
functions AS (
    -- credits_ops, and functions elsewhere (public, ...) whose body names a credits table.
    SELECT p.oid, p.oid::regprocedure::text AS name, p.prosecdef, p.proconfig, n.nspname::text AS schema
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND (n.nspname = 'credits_ops'
           OR EXISTS (SELECT FROM credits_tables t WHERE strpos(p.prosrc, t.relname) > 0))
)
SELECT 'rls_disabled_in_public' AS lint, 'ERROR' AS level, t.name AS object,
       'RLS is off: anyone granted the table through the REST API reads and writes every row' AS detail
FROM credits_tables t WHERE NOT t.rls
UNION ALL
SELECT 'policy_exists_rls_disabled', 'ERROR', t.name,
       format('%s polic(ies) exist but RLS is off, so none applies', count(*))
FROM credits_tables t JOIN policies p ON p.table_name = t.name
WHERE NOT t.rls GROUP BY t.name
UNION ALL
SELECT 'rls_enabled_no_policy', 'INFO', t.name,
       'RLS on with no policy: deny-all for every role without BYPASSRLS; fine for a table only the webhook role (service_role) uses'
FROM credits_tables t
WHERE t.rls AND NOT EXISTS (SELECT FROM policies p WHERE p.table_name = t.name)
UNION ALL
SELECT 'rls_policy_always_true', 'WARN', format('%s policy %s', p.table_name, p.policy),
       format('%s %s for %s: USING (%s) WITH CHECK (%s) lets every row through',
              lower(p.permissive), p.cmd, array_to_string(p.roles, ', '), p.qual, p.with_check)
FROM policies p
WHERE p.permissive = 'PERMISSIVE' AND (p.qual = 'true' OR p.with_check = 'true')
UNION ALL
SELECT 'auth_rls_initplan', 'WARN', format('%s policy %s', p.table_name, p.policy),
       'calls auth.<function>() or current_setting() once per row; write (select auth.uid()) so it runs once per statement'
FROM policies p
WHERE (p.qual || ' ' || p.with_check) ~* '(auth\.(uid|jwt|role)|current_setting)\('
  AND NOT (p.qual || ' ' || p.with_check) ~* 'select\s+(auth\.(uid|jwt|role)|current_setting)\('
UNION ALL
SELECT 'function_search_path_mutable', 'WARN', f.name,
       'no search_path set: a caller can put its own objects ahead of the ones it means'
FROM functions f
WHERE NOT EXISTS (SELECT FROM unnest(f.proconfig) c WHERE c LIKE 'search_path=%')
UNION ALL
SELECT 'security_definer_function_executable', 'ERROR', f.name,
       format('SECURITY DEFINER and executable by %s (callable through /rest/v1/rpc when in an exposed schema)', a.name)
FROM functions f
CROSS JOIN api_roles a
WHERE f.prosecdef
  AND has_schema_privilege(a.oid, f.schema, 'USAGE')
  AND has_function_privilege(a.oid, f.oid, 'EXECUTE')
ORDER BY 1, 3;
