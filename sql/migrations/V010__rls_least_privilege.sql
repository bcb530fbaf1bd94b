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
-- After it:
--   * RLS is enabled on every credits table (not forced: the table owner,
--     and SECURITY DEFINER functions it owns, keep working);
--   * permissive policies that let the API roles (or PUBLIC) write, or that
--     are USING (true) / WITH CHECK (true), are dropped; each dropped policy
--     is reported in the setting credits.rls_dropped (JSON);
--   * a signed-in user SELECTs only their own recharges, transactions and
--     balance (user_id = (select auth.uid()): evaluated once per statement);
--   * anon and signed-in users read active packages, not inactive ones;
--   * anon and signed-in users have no INSERT/UPDATE/DELETE/TRUNCATE grant on
--     any credits table, and nothing on stripe_webhook_event;
--   * of credits_ops, only the webhook role may execute anything, and only
--     credits_ops.apply_recharge: the one crediting path.
-- Running it again changes nothing.
DO $$
DECLARE
    v_user    text := coalesce(nullif(current_setting('credits.rls_user_role', true), ''), 'authenticated');
    v_anon    text := coalesce(nullif(current_setting('credits.rls_anon_role', true), ''), 'anon');
    v_webhook text := coalesce(nullif(current_setting('credits.rls_webhook_role', true), ''), 'service_role');
    v_table   text;
    v_policy  record;
    v_func    regprocedure;
    v_dropped jsonb := '[]'::jsonb;
BEGIN
    -- 1. Policies that open the ledger to the API roles.
    FOR v_policy IN
        SELECT p.tablename, p.policyname, p.cmd, p.roles::text AS roles, p.qual, p.with_check
          FROM pg_catalog.pg_policies p
         WHERE p.schemaname = 'public'
           AND p.tablename IN ('credit_package', 'credit_recharge', 'credit_transaction',
                               'user_credit_balance', 'stripe_webhook_event')
           AND p.permissive = 'PERMISSIVE'
           AND p.roles && ARRAY[v_user, v_anon, 'public']::name[]
           AND (p.cmd <> 'SELECT' OR p.qual = 'true' OR p.with_check = 'true')
         ORDER BY p.tablename, p.policyname
    LOOP
        EXECUTE format('DROP POLICY %I ON public.%I', v_policy.policyname, v_policy.tablename);
        v_dropped := v_dropped || jsonb_build_object(
            'table', v_policy.tablename, 'policy', v_policy.policyname, 'command', v_policy.cmd,
            'roles', v_policy.roles, 'using', v_policy.qual, 'with_check', v_policy.with_check);
    END LOOP;
    PERFORM pg_catalog.set_config('credits.rls_dropped', v_dropped::text, true);

    -- 2. RLS on, and no write grant for the API roles.
    FOREACH v_table IN ARRAY ARRAY['credit_package', 'credit_recharge', 'credit_transaction',
                                   'user_credit_balance', 'stripe_webhook_event'] LOOP
        IF pg_catalog.to_regclass(format('public.%I', v_table)) IS NULL THEN
            CONTINUE;
        END IF;
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.%I FROM %I, %I',
                       v_table, v_anon, v_user);
    END LOOP;

    -- 3. Reads: own rows for signed-in users; nothing of the ledger for anon.
    FOREACH v_table IN ARRAY ARRAY['credit_recharge', 'credit_transaction', 'user_credit_balance'] LOOP
        EXECUTE format('REVOKE SELECT ON public.%I FROM %I', v_table, v_anon);
        EXECUTE format('GRANT SELECT ON public.%I TO %I', v_table, v_user);
        EXECUTE format('DROP POLICY IF EXISTS credits_select_own ON public.%I', v_table);
        EXECUTE format('CREATE POLICY credits_select_own ON public.%I AS PERMISSIVE FOR SELECT TO %I '
                       'USING (user_id = (SELECT auth.uid()))', v_table, v_user);
    END LOOP;
    IF pg_catalog.to_regclass('public.stripe_webhook_event') IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON public.stripe_webhook_event FROM %I, %I', v_anon, v_user);
    END IF;

    -- 4. The catalogue: active packages only.
    EXECUTE format('GRANT SELECT ON public.credit_package TO %I, %I', v_anon, v_user);
    DROP POLICY IF EXISTS credits_select_active ON public.credit_package;
    EXECUTE format('CREATE POLICY credits_select_active ON public.credit_package AS PERMISSIVE FOR SELECT '
                   'TO %I, %I USING (is_active)', v_anon, v_user);

    -- 5. credits_ops: apply_recharge for the webhook role, nothing for anyone else.
    EXECUTE format('REVOKE ALL ON SCHEMA credits_ops FROM PUBLIC, %I, %I', v_anon, v_user);
    FOR v_func IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'credits_ops'::regnamespace
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, %I, %I', v_func, v_anon, v_user);
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA credits_ops TO %I', v_webhook);
    EXECUTE format('GRANT EXECUTE ON FUNCTION credits_ops.apply_recharge(text, text, text, text, boolean, boolean) TO %I',
                   v_webhook);
END
$$;
