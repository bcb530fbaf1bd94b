-- The balance audit triggers (V014) on the app's tables, for
-- `credits audit status` and `disable`: each trigger whose function is
-- one of V014's credits_ops.balance_audit_* functions, wherever it is, whether it fires, and
-- whether it is current: on a table of the app profile, reading columns
-- that exist (a column renamed since would be read as NULL and the writes
-- to it go unrecorded; `credits install` makes them anew when the app
-- changed, `credits audit enable` too).
SELECT format('%I.%I', n.nspname, c.relname) AS app_table,
       t.tgname::text AS trigger_name,
       t.tgenabled <> 'D' AS fires,
       c.oid IN (SELECT a.relid FROM credits_ops.app_tables() a WHERE a.relid IS NOT NULL)
       AND NOT EXISTS (
           SELECT FROM unnest((string_to_array(encode(t.tgargs, 'escape'), '\000'))[2:4]) AS arg (name)
           WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attname = arg.name
                               AND a.attnum > 0 AND NOT a.attisdropped)
       ) AS current
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
WHERE p.pronamespace = 'credits_ops'::regnamespace AND p.proname LIKE 'balance\_audit\_%'
  AND p.prorettype = 'trigger'::regtype
ORDER BY 1, 2;
