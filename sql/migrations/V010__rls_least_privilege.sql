-- credits:on-demand
-- The least-privilege Row Level Security fix for the credits tables. Applied
-- by `credits rls-fix` (never by `credits install`), recorded in
-- credits_ops.schema_history like every migration.
--
-- The roles come from transaction-local settings that `credits rls-fix`
-- sets right before running this file (--user-role, --anon-role,
-- --webhook-role); the defaults are Supabase's:
--   credits.rls_user_role    authenticated
--   credits.rls_anon_role    anon
--   credits.rls_webhook_role service_role
--
-- The tables are the app profile's (credits_ops.app_tables(), V002): the
-- recharges, ledger, balances, packages and webhook events tables, whatever
-- their names, and the app's evidence tables.
-- After it:
--   * RLS is enabled on every credits table (not forced: the table owner,
--     and SECURITY DEFINER functions it owns, keep working);
--   * permissive policies that let the API roles (or PUBLIC) write, or that
--     are USING (true) / WITH CHECK (true), are dropped; each dropped policy
--     is reported in the setting credits.rls_dropped (JSON);
--   * a signed-in user SELECTs only their own recharges, transactions and
--     balance: user_id = (select auth.uid()) where user ids are uuids of
--     Supabase Auth, else user_id::text = (select auth.jwt() ->> 'sub') (an
--     app whose tokens carry its own ids: auth.uid() would fail on them);
--     evaluated once per statement;
--   * anon and signed-in users read active packages, not inactive ones;
--   * anon and signed-in users have no INSERT/UPDATE/DELETE/TRUNCATE grant on
--     any credits table, and nothing on the webhook events and evidence
--     tables (evidence they could write could be forged);
--   * SECURITY DEFINER functions outside credits_ops that write the credits
--     tables lose EXECUTE for PUBLIC, anon and signed-in users, and keep it
--     for the webhook role; each is reported in credits.rls_revoked (JSON);
--   * of credits_ops, only the webhook role may execute anything, and only
--     credits_ops.apply_recharge: the one crediting path.
-- Running it again changes nothing.
DO $$
DECLARE
    v_user    text := coalesce(nullif(current_setting('credits.rls_user_role', true), ''), 'authenticated');
    v_anon    text := coalesce(nullif(current_setting('credits.rls_anon_role', true), ''), 'anon');
    v_webhook text := coalesce(nullif(current_setting('credits.rls_webhook_role', true), ''), 'service_role');
    v_profile jsonb := (SELECT p.profile FROM credits_ops.app_profile p);
    v_own     text;
    v_table   record;
    v_policy  record;
    v_func    record;
    v_dropped jsonb := '[]'::jsonb;
    v_revoked jsonb := '[]'::jsonb;
BEGIN
    -- How a row is recognised as the signed-in user's own.
    IF v_profile #>> '{roles,users,schema}' = 'auth'
       AND v_profile #>> '{roles,recharges,columns,user_id,type}' = 'uuid' THEN
        v_own := '%I = (SELECT auth.uid())';
    ELSE
        v_own := '%I::text = (SELECT auth.jwt() ->> ''sub'')';
    END IF;

    -- 1. Policies that open the credits tables to the API roles.
    FOR v_policy IN
        SELECT p.schemaname, p.tablename, p.policyname, p.cmd, p.roles::text AS roles, p.qual, p.with_check
          FROM pg_catalog.pg_policies p
          JOIN credits_ops.app_tables() a ON a.relid = format('%I.%I', p.schemaname, p.tablename)::regclass
         WHERE p.permissive = 'PERMISSIVE'
           AND p.roles && ARRAY[v_user, v_anon, 'public']::name[]
           AND (p.cmd <> 'SELECT' OR p.qual = 'true' OR p.with_check = 'true'
                OR a.role IN ('webhook_events', 'evidence'))
         ORDER BY p.schemaname, p.tablename, p.policyname
    LOOP
        EXECUTE format('DROP POLICY %I ON %I.%I', v_policy.policyname, v_policy.schemaname, v_policy.tablename);
        v_dropped := v_dropped || jsonb_build_object(
            'table', format('%I.%I', v_policy.schemaname, v_policy.tablename), 'policy', v_policy.policyname,
            'command', v_policy.cmd, 'roles', v_policy.roles, 'using', v_policy.qual,
            'with_check', v_policy.with_check);
    END LOOP;
    PERFORM pg_catalog.set_config('credits.rls_dropped', v_dropped::text, true);

    FOR v_table IN SELECT * FROM credits_ops.app_tables() a WHERE a.relid IS NOT NULL LOOP
        -- 2. RLS on, and no write grant for the API roles.
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', v_table.relid);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM %I, %I',
                       v_table.relid, v_anon, v_user);
        IF v_table.role IN ('recharges', 'ledger', 'balances') THEN
            -- 3. Reads: own rows for signed-in users; nothing for anon.
            EXECUTE format('REVOKE SELECT ON %s FROM %I', v_table.relid, v_anon);
            EXECUTE format('GRANT SELECT ON %s TO %I', v_table.relid, v_user);
            EXECUTE format('DROP POLICY IF EXISTS credits_select_own ON %s', v_table.relid);
            EXECUTE format('CREATE POLICY credits_select_own ON %s AS PERMISSIVE FOR SELECT TO %I USING (%s)',
                           v_table.relid, v_user, format(v_own, v_table.user_column));
        ELSIF v_table.role = 'packages' THEN
            -- 4. The catalogue: active packages only.
            EXECUTE format('GRANT SELECT ON %s TO %I, %I', v_table.relid, v_anon, v_user);
            EXECUTE format('DROP POLICY IF EXISTS credits_select_active ON %s', v_table.relid);
            EXECUTE format('CREATE POLICY credits_select_active ON %s AS PERMISSIVE FOR SELECT TO %I, %I USING (%I)',
                           v_table.relid, v_anon, v_user,
                           v_profile #>> '{roles,packages,columns,is_active,name}');
        ELSE
            -- Webhook events and the app's evidence: nothing for the API roles.
            EXECUTE format('REVOKE ALL ON %s FROM %I, %I', v_table.relid, v_anon, v_user);
        END IF;
    END LOOP;

    -- 5. The app's SECURITY DEFINER functions that write the credits tables:
    --    the webhook role only.
    FOR v_func IN
        SELECT p.oid::regprocedure AS func
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'credits_ops')
           AND p.prosrc ~* '\m(insert|update)\M'
           AND EXISTS (SELECT FROM credits_ops.app_tables() a
                       JOIN pg_catalog.pg_class c ON c.oid = a.relid
                       WHERE a.role IN ('recharges', 'ledger', 'balances')
                         AND strpos(p.prosrc, c.relname) > 0)
           AND (has_function_privilege('public', p.oid, 'EXECUTE')
                OR has_function_privilege(v_anon, p.oid, 'EXECUTE')
                OR has_function_privilege(v_user, p.oid, 'EXECUTE'))
         ORDER BY 1
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %I, %I', v_func.func, v_anon, v_user);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_func.func, v_webhook);
        v_revoked := v_revoked || jsonb_build_object('function', v_func.func::text,
                                                     'revoked_from', jsonb_build_array('PUBLIC', v_anon, v_user),
                                                     'kept_for', v_webhook);
    END LOOP;
    PERFORM pg_catalog.set_config('credits.rls_revoked', v_revoked::text, true);

    -- 6. credits_ops: apply_recharge for the webhook role, nothing for anyone else.
    EXECUTE format('REVOKE ALL ON SCHEMA credits_ops FROM PUBLIC, %I, %I', v_anon, v_user);
    FOR v_func IN
        SELECT p.oid::regprocedure AS func FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'credits_ops'::regnamespace
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, %I, %I', v_func.func, v_anon, v_user);
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA credits_ops TO %I', v_webhook);
    EXECUTE format('GRANT EXECUTE ON FUNCTION credits_ops.apply_recharge(text, text, text, text, boolean, boolean) TO %I',
                   v_webhook);
END
$$;
