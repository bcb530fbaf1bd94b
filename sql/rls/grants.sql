-- What each API role may do to each credits table, by grant (directly, via
-- PUBLIC or a role it inherits from). RLS decides which rows on top.
-- $1 anon role, $2 user role, $3 webhook role (each may not exist: skipped).
SELECT format('%s.%I', c.relnamespace::regnamespace, c.relname) AS table_name,
       r.rolname::text AS role,
       has_table_privilege(r.oid, c.oid, 'SELECT') AS can_select,
       has_table_privilege(r.oid, c.oid, 'INSERT') AS can_insert,
       has_table_privilege(r.oid, c.oid, 'UPDATE') AS can_update,
       has_table_privilege(r.oid, c.oid, 'DELETE') AS can_delete,
       r.rolbypassrls AS bypasses_rls
FROM credits_ops.app_tables() a
JOIN pg_class c ON c.oid = a.relid
CROSS JOIN pg_roles r
WHERE r.rolname IN ($1, $2, $3)
ORDER BY 1, array_position(ARRAY[$1, $2, $3]::text[], r.rolname::text);
