-- The app's evidence tables (the profile's [[evidence]]) that role $1 can
-- insert into: a grant, and no RLS or a policy letting it. Evidence anyone
-- can write can be forged with the public anon key.
SELECT format('%s.%I', c.relnamespace::regnamespace, c.relname) AS table_name
FROM credits_ops.app_tables() a
JOIN pg_class c ON c.oid = a.relid
WHERE a.role = 'evidence'
  AND has_table_privilege($1, c.oid, 'INSERT')
  AND (NOT c.relrowsecurity
       OR EXISTS (SELECT FROM pg_policy p
                  WHERE p.polrelid = c.oid AND p.polcmd IN ('a', '*')
                    AND p.polroles && ARRAY[0::oid, to_regrole($1)::oid]))
ORDER BY 1;
