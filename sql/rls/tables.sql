-- Row Level Security state of each credits table of the app profile (the
-- roles' tables, and the app's evidence tables).
SELECT format('%s.%I', c.relnamespace::regnamespace, c.relname) AS table_name,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM credits_ops.app_tables() a
JOIN pg_class c ON c.oid = a.relid
ORDER BY 1;
