-- The balance audit triggers (V014) on the app's tables, for
-- `credits audit status` and `disable`: each trigger whose function is
-- credits_ops.balance_audit_trigger, wherever it is (the app profile may
-- have changed since it was made), and whether it fires.
SELECT format('%I.%I', n.nspname, c.relname) AS app_table,
       t.tgname::text AS trigger_name,
       t.tgenabled <> 'D' AS fires
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgfoid = to_regprocedure('credits_ops.balance_audit_trigger()')
ORDER BY 1, 2;
