-- credits:profile
-- The adapter between the app's tables, whatever their names, id types and
-- enums, and everything else credits runs. Apps differ (credits-domain:
-- uuid, text or bigint ids; enums without some statuses; camelCase columns;
-- extra NOT NULL columns), so `credits install` detects the app profile and
-- passes it here as JSON (the setting credits.profile); build_adapter then
--   * creates the views credits_ops.app_recharge, app_transaction,
--     app_balance, app_package, app_user, app_webhook_event and
--     app_evidence, with the tool's column names, ids as text, amounts as
--     bigint, and statuses and types in the tool's words (a value the app
--     lacks simply matches no row; an unmapped one reads 'unknown');
--   * writes into credits_ops.adapter_statement the few statements that
--     write the app's rows (lock a recharge, append to the ledger, create or
--     move a balance, complete a recharge), comparing ids in their own type
--     (so the app's indexes serve) and filling the columns the app keeps
--     (balance_after, total_recharged, updated_at, description, metadata,
--     ids without a default) as the app would.
-- Identifiers go through format('%I'); values are bind parameters. A DBA
-- can read what credits writes with:
--   SELECT * FROM credits_ops.adapter_statement;
-- When the app or the mapping file changes, `credits install` calls
-- build_adapter again; CREATE OR REPLACE keeps every view built on these.

CREATE TABLE credits_ops.app_profile (
    singleton bool        PRIMARY KEY DEFAULT true CHECK (singleton),
    profile   jsonb       NOT NULL,
    checksum  text        NOT NULL,
    built_at  timestamptz NOT NULL DEFAULT now(),
    built_by  text        NOT NULL DEFAULT session_user
);

CREATE TABLE credits_ops.adapter_statement (
    name      text PRIMARY KEY,
    statement text NOT NULL
);

REVOKE ALL ON credits_ops.app_profile, credits_ops.adapter_statement FROM PUBLIC;

-- The statement credits uses to do `p_name` on this app (see above).
CREATE FUNCTION credits_ops.adapter_sql(p_name text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT s.statement FROM credits_ops.adapter_statement s WHERE s.name = p_name;
$fn$;

-- True when a signed-in user or anon can insert into the table: a grant, and
-- no RLS or a policy that lets them. Evidence kept in such a table could be
-- forged by anyone holding the public anon key.
CREATE FUNCTION credits_ops.api_writable(p_table regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (
        SELECT FROM pg_roles r
        WHERE r.rolname IN ('anon', 'authenticated')
          AND has_table_privilege(r.oid, p_table, 'INSERT')
          AND (NOT (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = p_table)
               OR EXISTS (SELECT FROM pg_policy p
                          WHERE p.polrelid = p_table AND p.polcmd IN ('a', '*')
                            AND (p.polroles && ARRAY[0::oid, r.oid]))));
$fn$;

CREATE FUNCTION credits_ops.build_adapter(p_profile jsonb, p_checksum text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_roles jsonb := p_profile -> 'roles';
    v_status_case text;
    v_type_case text;
    v_evidence text;
    v_source jsonb;
    v_cols text[];
    v_vals text[];
    v_sets text;

    -- The app's table of a role, schema-qualified and quoted.
    r_table text;
    l_table text;
    b_table text;
BEGIN
    r_table := format('%I.%I', v_roles #>> '{recharges,schema}', v_roles #>> '{recharges,table}');
    l_table := format('%I.%I', v_roles #>> '{ledger,schema}', v_roles #>> '{ledger,table}');
    b_table := format('%I.%I', v_roles #>> '{balances,schema}', v_roles #>> '{balances,table}');

    SELECT coalesce(string_agg(format('WHEN %L THEN %L', s.value, s.key), ' '), '')
      INTO v_status_case
      FROM jsonb_each_text(p_profile -> 'statuses') s WHERE s.value IS NOT NULL;
    SELECT coalesce(string_agg(format('WHEN %L THEN %L', s.value, s.key), ' '), '')
      INTO v_type_case
      FROM jsonb_each_text(p_profile -> 'types') s WHERE s.value IS NOT NULL;

    EXECUTE format($v$
        CREATE OR REPLACE VIEW credits_ops.app_recharge AS
        SELECT r.%s::text AS id, r.%s::text AS user_id, r.%s::bigint AS amount,
               (CASE r.%s::text %s ELSE 'unknown' END)::text AS status,
               r.%s::text AS app_status, r.%s::text AS payment_intent_id,
               %s AS created_at, %s::bigint AS price, %s::text AS currency
        FROM %s r$v$,
        credits_ops.profile_column(p_profile, 'recharges', 'id'),
        credits_ops.profile_column(p_profile, 'recharges', 'user_id'),
        credits_ops.profile_column(p_profile, 'recharges', 'amount'),
        credits_ops.profile_column(p_profile, 'recharges', 'status'), v_status_case,
        credits_ops.profile_column(p_profile, 'recharges', 'status'),
        credits_ops.profile_column(p_profile, 'recharges', 'payment_intent_id'),
        credits_ops.profile_time(p_profile, 'recharges', 'created_at', 'r'),
        coalesce('r.' || credits_ops.profile_column(p_profile, 'recharges', 'price'), 'NULL'),
        coalesce('r.' || credits_ops.profile_column(p_profile, 'recharges', 'currency'), 'NULL'),
        r_table);

    EXECUTE format($v$
        CREATE OR REPLACE VIEW credits_ops.app_transaction AS
        SELECT t.%s::text AS id, t.%s::text AS user_id, t.%s::bigint AS amount,
               (CASE t.%s::text %s ELSE 'other' END)::text AS type,
               t.%s::text AS app_type, t.%s::text AS related_recharge_id,
               %s AS created_at
        FROM %s t$v$,
        credits_ops.profile_column(p_profile, 'ledger', 'id'),
        credits_ops.profile_column(p_profile, 'ledger', 'user_id'),
        credits_ops.profile_column(p_profile, 'ledger', 'amount'),
        credits_ops.profile_column(p_profile, 'ledger', 'type'), v_type_case,
        credits_ops.profile_column(p_profile, 'ledger', 'type'),
        credits_ops.profile_column(p_profile, 'ledger', 'recharge_id'),
        credits_ops.profile_time(p_profile, 'ledger', 'created_at', 't'),
        l_table);

    EXECUTE format($v$
        CREATE OR REPLACE VIEW credits_ops.app_balance AS
        SELECT b.%s::text AS user_id, b.%s::bigint AS balance FROM %s b$v$,
        credits_ops.profile_column(p_profile, 'balances', 'user_id'),
        credits_ops.profile_column(p_profile, 'balances', 'balance'),
        b_table);

    EXECUTE format($v$
        CREATE OR REPLACE VIEW credits_ops.app_package AS
        SELECT p.%s::text AS id, p.%s::text AS name, p.%s::bigint AS credits,
               p.%s::boolean AS is_active
        FROM %I.%I p$v$,
        credits_ops.profile_column(p_profile, 'packages', 'id'),
        credits_ops.profile_column(p_profile, 'packages', 'name'),
        credits_ops.profile_column(p_profile, 'packages', 'credits'),
        credits_ops.profile_column(p_profile, 'packages', 'is_active'),
        v_roles #>> '{packages,schema}', v_roles #>> '{packages,table}');

    EXECUTE format($v$
        CREATE OR REPLACE VIEW credits_ops.app_user AS
        SELECT u.%s::text AS id, u.%s::text AS email FROM %I.%I u$v$,
        credits_ops.profile_column(p_profile, 'users', 'id'),
        credits_ops.profile_column(p_profile, 'users', 'email'),
        v_roles #>> '{users,schema}', v_roles #>> '{users,table}');

    IF v_roles ? 'webhook_events' THEN
        EXECUTE format($v$
            CREATE OR REPLACE VIEW credits_ops.app_webhook_event AS
            SELECT e.%s::text AS id, e.%s::text AS type, e.%s::text AS payment_intent_id,
                   e.%s::jsonb AS payload, %s::text AS status, %s::text AS error,
                   %s AS received_at
            FROM %I.%I e$v$,
            credits_ops.profile_column(p_profile, 'webhook_events', 'id'),
            credits_ops.profile_column(p_profile, 'webhook_events', 'type'),
            credits_ops.profile_column(p_profile, 'webhook_events', 'payment_intent_id'),
            credits_ops.profile_column(p_profile, 'webhook_events', 'payload'),
            coalesce('e.' || credits_ops.profile_column(p_profile, 'webhook_events', 'status'), 'NULL'),
            coalesce('e.' || credits_ops.profile_column(p_profile, 'webhook_events', 'error'), 'NULL'),
            credits_ops.profile_time(p_profile, 'webhook_events', 'received_at', 'e'),
            v_roles #>> '{webhook_events,schema}', v_roles #>> '{webhook_events,table}');
    END IF;

    -- Evidence of payment (credits-domain, "Evidence of payment"): stored
    -- success events, Stripe Sync Engine's mirror, and the app's own
    -- records. Only the app's records can be forgeable: they are marked so
    -- while anon or a signed-in user can insert into their table.
    -- Without a webhook events table there is no view of it: the checks
    -- that need one are skipped, and say so.
    v_evidence := 'SELECT NULL::text AS payment_intent_id, NULL::text AS source, false AS forgeable WHERE false';
    IF v_roles ? 'webhook_events' THEN
        v_evidence := v_evidence || $e$
        UNION ALL
        SELECT e.payment_intent_id, 'webhook event ' || e.type, false
        FROM credits_ops.app_webhook_event e
        WHERE e.type IN ('payment_intent.succeeded', 'checkout.session.async_payment_succeeded')
           OR (e.type = 'checkout.session.completed'
               AND e.payload #>> '{data,object,payment_status}' = 'paid')$e$;
    END IF;
    IF (p_profile ->> 'stripe_payment_intents')::boolean THEN
        v_evidence := v_evidence || $e$
        UNION ALL
        SELECT p.id::text, 'stripe.payment_intents succeeded', false
        FROM stripe.payment_intents p
        WHERE p.status = 'succeeded'$e$;
    END IF;
    FOR v_source IN SELECT * FROM jsonb_array_elements(p_profile -> 'evidence') LOOP
        v_evidence := v_evidence || format($e$
        UNION ALL
        SELECT x.%I::text, %L, credits_ops.api_writable(%L::regclass)
        FROM %I.%I x
        WHERE %s$e$,
            v_source ->> 'payment_intent_column',
            format('app record %I.%I', v_source ->> 'schema', v_source ->> 'table'),
            format('%I.%I', v_source ->> 'schema', v_source ->> 'table'),
            v_source ->> 'schema', v_source ->> 'table',
            v_source ->> 'condition');
    END LOOP;
    EXECUTE 'CREATE OR REPLACE VIEW credits_ops.app_evidence AS ' || v_evidence;
    IF NOT v_roles ? 'webhook_events' THEN
        DROP VIEW IF EXISTS credits_ops.app_webhook_event;
    END IF;

    -- The writes. Each compares ids in the column's own type.
    DELETE FROM credits_ops.adapter_statement;

    INSERT INTO credits_ops.adapter_statement VALUES
        ('recharge_lock', format('SELECT 1 FROM %s WHERE %s = $1::text::%s FOR UPDATE',
            r_table, credits_ops.profile_column(p_profile, 'recharges', 'id'),
            credits_ops.profile_type(p_profile, 'recharges', 'id'))),
        ('recharge_lock_user', format('SELECT 1 FROM %s WHERE %s = $1::text::%s ORDER BY %s FOR UPDATE',
            r_table, credits_ops.profile_column(p_profile, 'recharges', 'user_id'),
            credits_ops.profile_type(p_profile, 'recharges', 'user_id'),
            credits_ops.profile_column(p_profile, 'recharges', 'id'))),
        ('recharge_complete', format('UPDATE %s SET %s = %L::text::%s%s WHERE %s = $1::text::%s AND %s::text <> %L',
            r_table, credits_ops.profile_column(p_profile, 'recharges', 'status'),
            p_profile #>> '{statuses,completed}', credits_ops.profile_type(p_profile, 'recharges', 'status'),
            coalesce(', ' || credits_ops.profile_column(p_profile, 'recharges', 'updated_at') || ' = ' || credits_ops.profile_now(p_profile, 'recharges', 'updated_at'), ''),
            credits_ops.profile_column(p_profile, 'recharges', 'id'),
            credits_ops.profile_type(p_profile, 'recharges', 'id'),
            credits_ops.profile_column(p_profile, 'recharges', 'status'),
            p_profile #>> '{statuses,completed}')),
        ('balance_lock', format('SELECT %s::bigint FROM %s WHERE %s = $1::text::%s FOR UPDATE',
            credits_ops.profile_column(p_profile, 'balances', 'balance'), b_table,
            credits_ops.profile_column(p_profile, 'balances', 'user_id'),
            credits_ops.profile_type(p_profile, 'balances', 'user_id')));

    -- Moving a balance: total_recharged follows recharges and their
    -- corrections ($3), updated_at is set as the app's trigger or ORM would.
    v_sets := format('%1$s = %1$s + $2', credits_ops.profile_column(p_profile, 'balances', 'balance'));
    IF credits_ops.profile_column(p_profile, 'balances', 'total_recharged') IS NOT NULL THEN
        v_sets := v_sets || format(', %1$s = %1$s + $3', credits_ops.profile_column(p_profile, 'balances', 'total_recharged'));
    END IF;
    IF credits_ops.profile_column(p_profile, 'balances', 'updated_at') IS NOT NULL THEN
        v_sets := v_sets || format(', %s = %s', credits_ops.profile_column(p_profile, 'balances', 'updated_at'), credits_ops.profile_now(p_profile, 'balances', 'updated_at'));
    END IF;
    INSERT INTO credits_ops.adapter_statement VALUES
        ('balance_add', format('UPDATE %s SET %s WHERE %s = $1::text::%s RETURNING %s::bigint',
            b_table, v_sets, credits_ops.profile_column(p_profile, 'balances', 'user_id'),
            credits_ops.profile_type(p_profile, 'balances', 'user_id'),
            credits_ops.profile_column(p_profile, 'balances', 'balance'))),
        ('balance_set', format('UPDATE %s SET %s = $2%s WHERE %s = $1::text::%s',
            b_table, credits_ops.profile_column(p_profile, 'balances', 'balance'),
            coalesce(', ' || credits_ops.profile_column(p_profile, 'balances', 'updated_at') || ' = ' || credits_ops.profile_now(p_profile, 'balances', 'updated_at'), ''),
            credits_ops.profile_column(p_profile, 'balances', 'user_id'),
            credits_ops.profile_type(p_profile, 'balances', 'user_id')));

    -- A new balance row: 0, with an id, totals and timestamps where the app
    -- has no default for them. ON CONFLICT without a target: the unique
    -- user_id (required by the profile) makes a concurrent creation a no-op.
    v_cols := ARRAY[credits_ops.profile_column(p_profile, 'balances', 'user_id'),
                    credits_ops.profile_column(p_profile, 'balances', 'balance')];
    v_vals := ARRAY[format('$1::text::%s', credits_ops.profile_type(p_profile, 'balances', 'user_id')), '0'];
    SELECT v_cols || array_agg(c.col), v_vals || array_agg(c.val)
      INTO v_cols, v_vals
      FROM credits_ops.profile_fill(p_profile, 'balances',
                                    ARRAY['id', 'total_recharged', 'total_consumed', 'created_at', 'updated_at']) c;
    INSERT INTO credits_ops.adapter_statement VALUES
        ('balance_create', format('INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING',
            b_table, array_to_string(v_cols, ', '), array_to_string(v_vals, ', ')));

    -- A ledger row: $1 user, $2 amount, $3 the app's type value, $4 the
    -- recharge, $5 the running balance after it, $6 a description, $7
    -- metadata saying what wrote it. Returns its id, or nothing when a
    -- unique index of the app refused it.
    v_cols := ARRAY[credits_ops.profile_column(p_profile, 'ledger', 'user_id'),
                    credits_ops.profile_column(p_profile, 'ledger', 'amount'),
                    credits_ops.profile_column(p_profile, 'ledger', 'type'),
                    credits_ops.profile_column(p_profile, 'ledger', 'recharge_id')];
    v_vals := ARRAY[format('$1::text::%s', credits_ops.profile_type(p_profile, 'ledger', 'user_id')),
                    format('$2::bigint::%s', credits_ops.profile_type(p_profile, 'ledger', 'amount')),
                    format('$3::text::%s', credits_ops.profile_type(p_profile, 'ledger', 'type')),
                    format('$4::text::%s', credits_ops.profile_type(p_profile, 'ledger', 'recharge_id'))];
    SELECT v_cols || coalesce(array_agg(c.col), '{}'), v_vals || coalesce(array_agg(c.val), '{}')
      INTO v_cols, v_vals
      FROM credits_ops.profile_fill(p_profile, 'ledger',
                                    ARRAY['id', 'created_at', 'updated_at', 'balance_after', 'description', 'metadata']) c;
    INSERT INTO credits_ops.adapter_statement VALUES
        ('ledger_append', format('INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING RETURNING %s::text',
            l_table, array_to_string(v_cols, ', '), array_to_string(v_vals, ', '),
            credits_ops.profile_column(p_profile, 'ledger', 'id'))),
        ('package_set_active', format('UPDATE %I.%I SET %s = $2%s WHERE %s::text = $1 AND %s IS DISTINCT FROM $2',
            v_roles #>> '{packages,schema}', v_roles #>> '{packages,table}',
            credits_ops.profile_column(p_profile, 'packages', 'is_active'),
            coalesce(', ' || credits_ops.profile_column(p_profile, 'packages', 'updated_at') || ' = ' || credits_ops.profile_now(p_profile, 'packages', 'updated_at'), ''),
            credits_ops.profile_column(p_profile, 'packages', 'id'),
            credits_ops.profile_column(p_profile, 'packages', 'is_active')));

    -- What `credits rls-fix` tries as the API roles, on the app's own tables
    -- (rolled back): user ids compared as text, $1 the probing user, $2 another.
    INSERT INTO credits_ops.adapter_statement VALUES
        ('probe_read_ledger', format(
            'SELECT (SELECT count(*) FROM %1$s WHERE %2$s::text = $1) + (SELECT count(*) FROM %3$s WHERE %4$s::text = $1) '
            '+ (SELECT count(*) FROM %5$s WHERE %6$s::text = $1) AS own, '
            '(SELECT count(*) FROM %1$s WHERE %2$s::text IS DISTINCT FROM $1) + (SELECT count(*) FROM %3$s WHERE %4$s::text IS DISTINCT FROM $1) '
            '+ (SELECT count(*) FROM %5$s WHERE %6$s::text IS DISTINCT FROM $1) AS others',
            r_table, credits_ops.profile_column(p_profile, 'recharges', 'user_id'),
            l_table, credits_ops.profile_column(p_profile, 'ledger', 'user_id'),
            b_table, credits_ops.profile_column(p_profile, 'balances', 'user_id'))),
        ('probe_read_packages', format(
            'SELECT count(*) FILTER (WHERE %1$s) AS active, count(*) FILTER (WHERE NOT %1$s) AS inactive FROM %2$I.%3$I',
            credits_ops.profile_column(p_profile, 'packages', 'is_active'),
            v_roles #>> '{packages,schema}', v_roles #>> '{packages,table}')),
        ('probe_update_balance', format(
            'UPDATE %1$s SET %2$s = %2$s + 1000000 WHERE %3$s::text IN ($1, $2)',
            b_table, credits_ops.profile_column(p_profile, 'balances', 'balance'),
            credits_ops.profile_column(p_profile, 'balances', 'user_id'))),
        ('probe_update_recharge', format(
            'UPDATE %1$s SET %2$s = %3$L::text::%4$s WHERE %5$s::text IN ($1, $2)',
            r_table, credits_ops.profile_column(p_profile, 'recharges', 'status'),
            p_profile #>> '{statuses,completed}', credits_ops.profile_type(p_profile, 'recharges', 'status'),
            credits_ops.profile_column(p_profile, 'recharges', 'user_id'))),
        ('probe_update_package', format(
            'UPDATE %1$I.%2$I SET %3$s = %3$s + 1000000',
            v_roles #>> '{packages,schema}', v_roles #>> '{packages,table}',
            credits_ops.profile_column(p_profile, 'packages', 'credits')));
    IF v_roles ? 'webhook_events' THEN
        INSERT INTO credits_ops.adapter_statement VALUES
            ('probe_read_webhook_events', format('SELECT count(*) AS visible FROM %I.%I',
                v_roles #>> '{webhook_events,schema}', v_roles #>> '{webhook_events,table}'));
    END IF;

    INSERT INTO credits_ops.app_profile (profile, checksum) VALUES (p_profile, p_checksum)
    ON CONFLICT (singleton) DO UPDATE
        SET profile = excluded.profile, checksum = excluded.checksum,
            built_at = now(), built_by = session_user;
END
$fn$;

-- The quoted name of a role's column, or NULL when the app has none.
CREATE FUNCTION credits_ops.profile_column(p_profile jsonb, p_role text, p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT quote_ident(p_profile #>> ARRAY['roles', p_role, 'columns', p_key, 'name']);
$fn$;

-- The SQL type of a role's column, as the catalog spells it.
CREATE FUNCTION credits_ops.profile_type(p_profile jsonb, p_role text, p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT p_profile #>> ARRAY['roles', p_role, 'columns', p_key, 'type'];
$fn$;

-- A timestamp column read as timestamptz: one without a time zone is taken
-- as UTC (what ORMs such as Prisma store there), whatever the session's zone.
CREATE FUNCTION credits_ops.profile_time(p_profile jsonb, p_role text, p_key text, p_alias text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN credits_ops.profile_type(p_profile, p_role, p_key) LIKE 'timestamp%without time zone'
                THEN format('(%s.%s AT TIME ZONE ''UTC'')', p_alias, credits_ops.profile_column(p_profile, p_role, p_key))
                ELSE format('%s.%s::timestamptz', p_alias, credits_ops.profile_column(p_profile, p_role, p_key)) END;
$fn$;

-- The current time as the column stores it (UTC where it has no time zone).
CREATE FUNCTION credits_ops.profile_now(p_profile jsonb, p_role text, p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN credits_ops.profile_type(p_profile, p_role, p_key) LIKE 'timestamp%without time zone'
                THEN '(now() AT TIME ZONE ''UTC'')' ELSE 'now()' END;
$fn$;

-- The columns a new row must carry beyond the ones every app has, with what
-- goes in them: an id where the column has no default (uuid, or a cuid-like
-- text id), timestamps, zero totals, and for the ledger the running
-- balance ($5), a description ($6) and metadata ($7).
CREATE FUNCTION credits_ops.profile_fill(p_profile jsonb, p_role text, p_keys text[])
RETURNS TABLE (col text, val text)
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT credits_ops.profile_column(p_profile, p_role, k.key),
           CASE k.key
               WHEN 'id' THEN
                   CASE WHEN credits_ops.profile_type(p_profile, p_role, 'id') = 'uuid'
                        THEN 'gen_random_uuid()'
                        ELSE format('(''c'' || substr(replace(gen_random_uuid()::text, ''-'', ''''), 1, 23))::%s',
                                    credits_ops.profile_type(p_profile, p_role, 'id')) END
               WHEN 'created_at' THEN credits_ops.profile_now(p_profile, p_role, k.key)
               WHEN 'updated_at' THEN credits_ops.profile_now(p_profile, p_role, k.key)
               WHEN 'total_recharged' THEN '0'
               WHEN 'total_consumed' THEN '0'
               WHEN 'balance_after' THEN format('$5::bigint::%s', credits_ops.profile_type(p_profile, p_role, k.key))
               WHEN 'description' THEN format('$6::text::%s', credits_ops.profile_type(p_profile, p_role, k.key))
               WHEN 'metadata' THEN format('$7::jsonb::text::%s', credits_ops.profile_type(p_profile, p_role, k.key))
           END
    FROM unnest(p_keys) AS k (key)
    WHERE p_profile #> ARRAY['roles', p_role, 'columns', k.key] IS NOT NULL
      AND (k.key IN ('balance_after', 'description', 'metadata')
           OR NOT (p_profile #>> ARRAY['roles', p_role, 'columns', k.key, 'has_default'])::boolean);
$fn$;

-- The app's credits tables (every role but users) and its evidence tables,
-- with the user id column where rows belong to a user: what RLS must guard.
CREATE FUNCTION credits_ops.app_tables()
RETURNS TABLE (role text, relid regclass, user_column text, user_type text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT r.key, to_regclass(format('%I.%I', r.value ->> 'schema', r.value ->> 'table')),
           r.value #>> '{columns,user_id,name}', r.value #>> '{columns,user_id,type}'
    FROM credits_ops.app_profile p, jsonb_each(p.profile -> 'roles') r
    WHERE r.key <> 'users'
    UNION ALL
    SELECT 'evidence', to_regclass(format('%I.%I', e ->> 'schema', e ->> 'table')), NULL, NULL
    FROM credits_ops.app_profile p, jsonb_array_elements(p.profile -> 'evidence') e;
$fn$;

REVOKE ALL ON FUNCTION credits_ops.app_tables() FROM PUBLIC;

REVOKE ALL ON FUNCTION credits_ops.adapter_sql(text), credits_ops.api_writable(regclass),
    credits_ops.build_adapter(jsonb, text), credits_ops.profile_column(jsonb, text, text),
    credits_ops.profile_type(jsonb, text, text), credits_ops.profile_fill(jsonb, text, text[]),
    credits_ops.profile_time(jsonb, text, text, text), credits_ops.profile_now(jsonb, text, text)
    FROM PUBLIC;

SELECT credits_ops.build_adapter(current_setting('credits.profile')::jsonb,
                                 current_setting('credits.profile_checksum'));
