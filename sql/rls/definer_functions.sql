-- SECURITY DEFINER functions outside credits_ops that write one of the app's
-- credits tables (their body names it, and inserts or updates) and that role
-- $1 may execute: callable through /rest/v1/rpc when in an exposed schema,
-- so a signed-in user could, say, complete and credit their own unpaid
-- recharge. The least-privilege fix (V010) revokes them from the API roles.
SELECT p.oid::regprocedure::text AS function
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'credits_ops')
  AND p.prosrc ~* '\m(insert|update)\M'
  AND EXISTS (SELECT FROM credits_ops.app_tables() a
              JOIN pg_class c ON c.oid = a.relid
              WHERE a.role IN ('recharges', 'ledger', 'balances')
                AND strpos(p.prosrc, c.relname) > 0)
  AND has_schema_privilege($1, n.oid, 'USAGE')
  AND has_function_privilege($1, p.oid, 'EXECUTE')
ORDER BY 1;
