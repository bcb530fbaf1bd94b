-- `credits audit disable`: drops every balance audit trigger (V014),
-- wherever it is, and keeps the trail's rows and functions. Running it
-- again changes nothing.
DO $$
DECLARE
    v_trigger record;
BEGIN
    FOR v_trigger IN
        SELECT t.tgname, t.tgrelid::regclass AS app_table
        FROM pg_catalog.pg_trigger t
        WHERE t.tgfoid = to_regprocedure('credits_ops.balance_audit_trigger()')
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v_trigger.tgname, v_trigger.app_table);
    END LOOP;
END $$;
