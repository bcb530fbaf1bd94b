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
        JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
        WHERE p.pronamespace = 'credits_ops'::regnamespace AND p.proname LIKE 'balance\_audit\_%'
          AND p.prorettype = 'trigger'::regtype
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v_trigger.tgname, v_trigger.app_table);
    END LOOP;
END $$;
