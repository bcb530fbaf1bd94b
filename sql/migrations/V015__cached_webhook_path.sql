-- The webhook's path without planning at every call. Measured on the
-- runbook's app: apply_recharge took 1.9 ms, of which about 1.3 ms was
-- planning, because credit_plan was a SQL function (planned anew at every
-- call, its plan never cached) and credit_recharges ran the adapter's
-- *_many statements with EXECUTE (planned anew too). With 16 webhook
-- callers on two cores the p99 waits behind that. Here:
--   * the *_many statements of credits_ops.adapter_statement (V011) become
--     functions written for this app's names, credits_ops.app_<name>, whose
--     plans PL/pgSQL caches for the session; they are made again whenever
--     the adapter is rebuilt (a trigger on app_profile, after V011's);
--   * credit_plan becomes PL/pgSQL (RETURN QUERY of the same query, cached);
--   * credit_recharges calls those functions, and runs its own statements
--     without EXECUTE; a write with nothing to write (no balance row to
--     create, no status to change) is not run at all, so it fires no
--     statement trigger of the app's. What it decides and writes is
--     unchanged;
--   * both use generic plans (plan_cache_mode): with custom plans PL/pgSQL
--     planned credit_plan's query again at every call, its array argument
--     making each custom plan look cheaper than the generic one. Their
--     queries are written to drive from the ids given (LATERAL ... OFFSET 0,
--     V011), so one plan serves one recharge and a thousand alike.
-- Measured after it: 0.7 ms per apply_recharge, from 2.2 ms (one session,
-- balance audit trail on).

-- Each *_many statement as a function of its positional parameters ($1 ..
-- in its text are the function's arguments), returning nothing, or the
-- rows of its RETURNING clause.
CREATE FUNCTION credits_ops.build_set_functions()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_spec record;
BEGIN
    FOR v_spec IN
        SELECT f.name, f.args, f.returns, s.statement
        FROM (VALUES
            ('balance_create_many',    'text[]', 'void'),
            ('balance_add_many',       'text[], bigint[], bigint[]', 'void'),
            ('balance_set_many',       'text[], bigint[]', 'void'),
            ('recharge_complete_many', 'text[]', 'void'),
            ('ledger_append_many',     'text[], bigint[], text, text[], bigint[], text[], jsonb[]',
             'TABLE (appended_recharge_id text, appended_transaction_id text)')
        ) AS f (name, args, returns)
        JOIN credits_ops.adapter_statement s ON s.name = f.name
    LOOP
        -- OR REPLACE keeps the function's identity: the plans of sessions
        -- calling it are invalidated, never left pointing at a dropped one.
        EXECUTE format(
            'CREATE OR REPLACE FUNCTION credits_ops.%I(%s) RETURNS %s LANGUAGE plpgsql '
            'SET search_path = pg_catalog, public, pg_temp AS %L',
            'app_' || v_spec.name, v_spec.args, v_spec.returns,
            E'#variable_conflict use_column\nBEGIN\n'
            || CASE WHEN v_spec.returns = 'void' THEN v_spec.statement
                    ELSE format('RETURN QUERY WITH appended AS (%s) SELECT * FROM appended', v_spec.statement) END
            || E';\nEND');
        EXECUTE format('REVOKE ALL ON FUNCTION credits_ops.%I(%s) FROM PUBLIC', 'app_' || v_spec.name, v_spec.args);
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.build_set_functions() FROM PUBLIC;

-- After V011's trigger has rebuilt the statements for a changed profile
-- (triggers fire in the order of their names: rebuild_set_statements, then
-- this one).
CREATE FUNCTION credits_ops.rebuild_set_statements_functions()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM credits_ops.build_set_functions();
    RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.rebuild_set_statements_functions() FROM PUBLIC;

CREATE TRIGGER rebuild_set_statements_functions
AFTER INSERT OR UPDATE ON credits_ops.app_profile
FOR EACH ROW EXECUTE FUNCTION credits_ops.rebuild_set_statements_functions();

SELECT credits_ops.build_set_functions();

-- What crediting each recharge would do, read-only (V011's rules, unchanged).
CREATE OR REPLACE FUNCTION credits_ops.credit_plan(
    p_ids text[], p_attested jsonb, p_operator text, p_trust_app_evidence boolean)
RETURNS TABLE (recharge_id text, user_id text, payment_intent_id text, amount bigint,
               status text, app_status text, created_at timestamptz, action text, evidence text,
               transaction_id text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH wanted AS (
        SELECT DISTINCT w.id FROM unnest(p_ids) AS w (id)
    ), recharge AS (
        SELECT w.id AS wanted_id, r.*
        FROM wanted w
        LEFT JOIN LATERAL (SELECT r.* FROM credits_ops.app_recharge r WHERE r.id = w.id OFFSET 0) r ON true
    ), evidence AS (
        SELECT * FROM credits_ops.evidence_summary(ARRAY(
            SELECT r.payment_intent_id FROM recharge r
            WHERE r.status IN ('pending', 'failed') AND r.payment_intent_id IS NOT NULL))
    ), decided AS (
        SELECT r.*, t.id AS tx_id, e.sources, e.forgeable,
               coalesce(p_attested ? r.wanted_id OR p_attested ? r.payment_intent_id, false) AS attested
        FROM recharge r
        LEFT JOIN LATERAL (
            SELECT t.id FROM credits_ops.app_transaction t
            WHERE t.related_recharge_id = r.id AND t.type = 'recharge'
            ORDER BY t.created_at LIMIT 1) t ON true
        LEFT JOIN evidence e ON e.payment_intent_id = r.payment_intent_id
    )
    SELECT d.wanted_id, d.user_id, d.payment_intent_id, d.amount, d.status, d.app_status, d.created_at,
           CASE WHEN d.id IS NULL THEN 'not_found'
                WHEN d.tx_id IS NOT NULL THEN 'already_credited'
                WHEN d.status NOT IN ('completed', 'pending', 'failed') THEN 'not_creditable'
                WHEN d.status = 'completed' OR d.attested THEN 'credit'
                WHEN d.sources IS NULL THEN 'no_evidence'
                WHEN d.forgeable AND NOT p_trust_app_evidence THEN 'forgeable_evidence'
                ELSE 'credit' END,
           CASE WHEN d.status = 'completed'
                THEN 'recharge completed by the app'
                     || coalesce('; ' || coalesce(p_attested ->> d.wanted_id, p_attested ->> d.payment_intent_id), '')
                WHEN d.attested THEN coalesce(p_attested ->> d.wanted_id, p_attested ->> d.payment_intent_id,
                                              'attested by ' || coalesce(p_operator, session_user::text))
                ELSE d.sources || CASE WHEN d.forgeable
                                       THEN ' (writable by API roles; trusted by '
                                            || coalesce(p_operator, session_user::text) || ')'
                                       ELSE '' END END,
           d.tx_id
    FROM decided d;
END
$fn$;

-- The one crediting path (V011's, unchanged in what it decides and writes).
CREATE OR REPLACE FUNCTION credits_ops.credit_recharges(
    p_ids text[], p_attested jsonb, p_operator text, p_reason text, p_command text,
    p_trust_app_evidence boolean, p_skip_locked boolean)
RETURNS SETOF credits_ops.credit_row
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_operator text := coalesce(p_operator, session_user::text);
    v_plan     credits_ops.credit_row[];
    v_locked   text[];
    v_users    text[];
    v_held     text[];
    v_before   bigint[];
    v_inserted text[];
    v_tx_ids   text[];
    v_app_type text;
    v_new_users   text[];
    v_new_amounts bigint[];
    v_new_ids     text[];
    v_new_after   bigint[];
    v_missing     text[];
    v_to_complete text[];
BEGIN
    -- The lock order of every writer: recharge rows by id, then balance
    -- rows by user id.
    IF p_skip_locked THEN
        v_locked := ARRAY(SELECT r.id FROM credits_ops.app_recharge r
                          WHERE r.id = ANY (p_ids) ORDER BY r.id FOR UPDATE SKIP LOCKED);
    ELSE
        v_locked := ARRAY(SELECT r.id FROM credits_ops.app_recharge r
                          WHERE r.id = ANY (p_ids) ORDER BY r.id FOR UPDATE);
    END IF;
    -- Planned after the locks, so no credit slips in between.
    v_plan := ARRAY(
        SELECT ROW(p.recharge_id, p.user_id, p.payment_intent_id, p.amount, p.status, p.app_status, p.created_at,
                   CASE WHEN p.action = 'credit' AND p.recharge_id <> ALL (v_locked) THEN 'skipped_locked'
                        ELSE p.action END,
                   p.evidence, p.transaction_id, NULL, NULL)::credits_ops.credit_row
        FROM credits_ops.credit_plan(p_ids, p_attested, v_operator, p_trust_app_evidence) p);

    -- The balance rows of the users to credit: created at 0 where missing,
    -- then locked; the recharges of a user whose balance row is held wait
    -- for a rerun.
    v_users := ARRAY(SELECT DISTINCT c.user_id FROM unnest(v_plan) c WHERE c.action = 'credit');
    IF cardinality(v_users) = 0 THEN
        RETURN QUERY SELECT * FROM unnest(v_plan) c ORDER BY c.user_id, c.created_at, c.recharge_id;
        RETURN;
    END IF;
    -- A statement that would change nothing is not run: it would still
    -- fire the app's statement triggers (the balance audit trail's too).
    v_missing := ARRAY(SELECT u FROM unnest(v_users) AS u
                       WHERE NOT EXISTS (SELECT FROM credits_ops.app_balance b WHERE b.user_id = u OFFSET 0));
    IF cardinality(v_missing) > 0 THEN
        PERFORM credits_ops.app_balance_create_many(v_missing);
    END IF;
    IF p_skip_locked THEN
        SELECT coalesce(array_agg(b.user_id), '{}'), coalesce(array_agg(b.balance), '{}')
          INTO v_held, v_before
          FROM (SELECT b.user_id, b.balance FROM credits_ops.app_balance b
                WHERE b.user_id = ANY (v_users) ORDER BY b.user_id FOR UPDATE SKIP LOCKED) b;
    ELSE
        SELECT coalesce(array_agg(b.user_id), '{}'), coalesce(array_agg(b.balance), '{}')
          INTO v_held, v_before
          FROM (SELECT b.user_id, b.balance FROM credits_ops.app_balance b
                WHERE b.user_id = ANY (v_users) ORDER BY b.user_id FOR UPDATE) b;
    END IF;
    -- Each credit's balance after it, in the order the recharges were made.
    v_plan := ARRAY(
        SELECT ROW(c.recharge_id, c.user_id, c.payment_intent_id, c.amount, c.status, c.app_status, c.created_at,
                   CASE WHEN c.action = 'credit' AND h.user_id IS NULL THEN 'skipped_locked' ELSE c.action END,
                   c.evidence, c.transaction_id,
                   h.balance + sum(c.amount) OVER running - c.amount,
                   h.balance + sum(c.amount) OVER running)::credits_ops.credit_row
        FROM unnest(v_plan) c
        LEFT JOIN unnest(v_held, v_before) AS h (user_id, balance)
               ON h.user_id = c.user_id AND c.action = 'credit'
        WINDOW running AS (PARTITION BY c.user_id, h.user_id IS NULL
                           ORDER BY c.created_at, c.recharge_id));

    SELECT p.profile -> 'types' ->> 'recharge' INTO v_app_type FROM credits_ops.app_profile p;
    IF v_app_type IS NULL THEN
        RAISE EXCEPTION 'this app has no transaction type for recharge'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'set types.recharge in credits.toml, then run credits install';
    END IF;
    -- The rows to append, as the arrays ledger_append_many takes, in one
    -- pass over the plan; every row says the same of what wrote it.
    SELECT coalesce(array_agg(c.user_id ORDER BY c.recharge_id), '{}'),
           coalesce(array_agg(c.amount ORDER BY c.recharge_id), '{}'),
           coalesce(array_agg(c.recharge_id ORDER BY c.recharge_id), '{}'),
           coalesce(array_agg(c.balance_after ORDER BY c.recharge_id), '{}')
      INTO v_new_users, v_new_amounts, v_new_ids, v_new_after
      FROM unnest(v_plan) c WHERE c.action = 'credit';
    -- ON CONFLICT without a target: a no-op where the app has a unique index
    -- on recharge transactions and another writer won; the row locks above
    -- already serialise every caller of this function.
    SELECT coalesce(array_agg(a.appended_recharge_id), '{}'), coalesce(array_agg(a.appended_transaction_id), '{}')
      INTO v_inserted, v_tx_ids
      FROM credits_ops.app_ledger_append_many(
               v_new_users, v_new_amounts, v_app_type, v_new_ids, v_new_after,
               array_fill(format('credits %s%s', p_command, coalesce(': ' || p_reason, '')),
                          ARRAY[cardinality(v_new_ids)]),
               array_fill(jsonb_build_object('written_by', 'credits', 'command', p_command, 'reason', p_reason),
                          ARRAY[cardinality(v_new_ids)])) a;
    -- A credit the app's unique index refused was made by another writer.
    v_plan := ARRAY(
        SELECT ROW(c.recharge_id, c.user_id, c.payment_intent_id, c.amount, c.status, c.app_status, c.created_at,
                   CASE WHEN c.action <> 'credit' THEN c.action
                        WHEN i.recharge_id IS NULL THEN 'already_credited'
                        ELSE 'credited' END,
                   c.evidence, coalesce(i.transaction_id, c.transaction_id),
                   c.balance_before, c.balance_after)::credits_ops.credit_row
        FROM unnest(v_plan) c
        LEFT JOIN unnest(v_inserted, v_tx_ids) AS i (recharge_id, transaction_id)
               ON i.recharge_id = c.recharge_id AND c.action = 'credit');

    -- Each balance moves once, by what its user was credited, unless it
    -- already moved (an app may maintain balances with a trigger).
    WITH moved AS (SELECT c.user_id, sum(c.amount)::bigint AS credits FROM unnest(v_plan) c
                   WHERE c.action = 'credited' GROUP BY c.user_id)
    SELECT coalesce(array_agg(m.user_id), '{}'), coalesce(array_agg(m.credits), '{}')
      INTO v_users, v_before
      FROM moved m JOIN unnest(v_held, v_before) AS h (user_id, balance) ON h.user_id = m.user_id
      JOIN credits_ops.app_balance b ON b.user_id = m.user_id WHERE b.balance = h.balance;
    IF cardinality(v_users) > 0 THEN
        PERFORM credits_ops.app_balance_add_many(v_users, v_before, v_before);
    END IF;
    v_to_complete := ARRAY(SELECT c.recharge_id FROM unnest(v_plan) c
                           WHERE c.action = 'credited' AND c.status <> 'completed');
    IF cardinality(v_to_complete) > 0 THEN
        PERFORM credits_ops.app_recharge_complete_many(v_to_complete);
    END IF;

    INSERT INTO credits_ops.repair_log
        (operator, reason, command, recharge_id, user_id, action, credits_delta,
         balance_before, balance_after, detail)
    SELECT v_operator, p_reason, p_command, c.recharge_id, c.user_id, 'credited', c.amount,
           c.balance_before, c.balance_after,
           jsonb_build_object('transaction_id', c.transaction_id, 'evidence', c.evidence,
                              'status_before', c.app_status, 'payment_intent_id', c.payment_intent_id)
      FROM unnest(v_plan) c WHERE c.action = 'credited'
     ORDER BY c.user_id, c.created_at, c.recharge_id;

    RETURN QUERY SELECT * FROM unnest(v_plan) c ORDER BY c.user_id, c.created_at, c.recharge_id;
END
$fn$;
