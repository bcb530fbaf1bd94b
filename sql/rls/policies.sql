-- Every policy on the credits tables: who, for what, permissive or
-- restrictive, and its USING / WITH CHECK expressions.
SELECT format('%I.%I', p.schemaname, p.tablename) AS table_name,
       p.policyname::text AS policy,
       p.permissive::text AS permissive,
       array_to_string(p.roles, ', ') AS roles,
       p.cmd::text AS command,
       p.qual AS using_expr,
       p.with_check AS with_check
FROM pg_policies p
JOIN credits_ops.app_tables() a ON a.relid = format('%I.%I', p.schemaname, p.tablename)::regclass
ORDER BY 1, p.policyname;
