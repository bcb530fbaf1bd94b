-- The functions of credits_ops role $1 can execute (schema USAGE and EXECUTE).
SELECT p.oid::regprocedure::text AS function
FROM pg_proc p
WHERE p.pronamespace = 'credits_ops'::regnamespace
  AND has_schema_privilege($1, 'credits_ops', 'USAGE')
  AND has_function_privilege($1, p.oid, 'EXECUTE')
ORDER BY 1;
