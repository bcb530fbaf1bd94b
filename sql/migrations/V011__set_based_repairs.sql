-- Set-based crediting and repair: the same decisions as V007 and V008, made
-- for a whole batch of recharges or users in a few statements instead of a
-- PL/pgSQL loop per user and per recharge (which read the app's tables once
-- per user: at 1M recharges, minutes, with row locks held meanwhile).
--
--   credits_ops.credit_plan(ids, attested ids, operator, trust)
--       read-only: what crediting each recharge would do, and on what
--       evidence (the one place the evidence rules are applied);
--   credits_ops.credit_recharges(ids, attested ids, operator, reason,
--       command, trust, skip_locked)
--       the one crediting path: locks the recharges (by id) then the
--       balances (by user id), appends the missing `recharge` transactions
--       in one INSERT, moves each balance once, completes the recharges and
--       writes one audit row per credit;
--   credits_ops.fix_users(users, ...)      the repair of a batch of users;
--   credits_ops.retry_recharges(ids, ...)  the retry of failed or stuck ones.
-- apply_recharge, fix_user and retry_failed keep their signatures (the
-- webhook, psql users and the runbook's entry points call them) and now run
-- on these. The set-based writes are adapter statements named `*_many`,
-- generated for this app's names (below) whenever the profile is stored.
-- search_path is pinned with public after pg_catalog, as in V007.
--
-- Plans: a batch is small by construction (sized by time), but the planner
-- cannot know an array parameter's size, and the adapter views' CASE
-- mappings hide the statuses' selectivity; left alone it drives joins from
-- the whole ledger and JIT-compiles them (seconds per batch, measured).
-- So every query here is driven from the batch's ids, each lookup a
-- LATERAL subquery kept apart with OFFSET 0 (an index probe per row), and
-- the functions run with jit off.

-- The set-based writes, for this app's names and types. Ids are compared in
-- their text form, which is indexed on every app after install (V004).
CREATE FUNCTION credits_ops.build_set_statements(p_profile jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_roles jsonb := p_profile -> 'roles';
    r_table text := format('%I.%I', v_roles #>> '{recharges,schema}', v_roles #>> '{recharges,table}');
    l_table text := format('%I.%I', v_roles #>> '{ledger,schema}', v_roles #>> '{ledger,table}');
    b_table text := format('%I.%I', v_roles #>> '{balances,schema}', v_roles #>> '{balances,table}');
    v_cols  text[];
    v_vals  text[];
    v_sets  text;
BEGIN
    DELETE FROM credits_ops.adapter_statement WHERE name LIKE '%\_many';

    -- Ledger rows from arrays: $1 users, $2 amounts, $3 the app's type value
    -- (one for all), $4 recharges, $5 running balances after, $6
    -- descriptions, $7 metadata. Returns (recharge id, transaction id) of
    -- each row inserted; a row a unique index of the app refused is absent.
    v_cols := ARRAY[credits_ops.profile_column(p_profile, 'ledger', 'user_id'),
                    credits_ops.profile_column(p_profile, 'ledger', 'amount'),
                    credits_ops.profile_column(p_profile, 'ledger', 'type'),
                    credits_ops.profile_column(p_profile, 'ledger', 'recharge_id')];
    v_vals := ARRAY[format('x.p1::text::%s', credits_ops.profile_type(p_profile, 'ledger', 'user_id')),
                    format('x.p2::bigint::%s', credits_ops.profile_type(p_profile, 'ledger', 'amount')),
                    format('$3::text::%s', credits_ops.profile_type(p_profile, 'ledger', 'type')),
                    format('x.p4::text::%s', credits_ops.profile_type(p_profile, 'ledger', 'recharge_id'))];
    -- profile_fill writes the per-row values as $5..$7 (V002's one-row
    -- statement); here they come from the arrays.
    SELECT v_cols || coalesce(array_agg(c.col), '{}'),
           v_vals || coalesce(array_agg(regexp_replace(c.val, '\$([567])', 'x.p\1', 'g')), '{}')
      INTO v_cols, v_vals
      FROM credits_ops.profile_fill(p_profile, 'ledger',
                                    ARRAY['id', 'created_at', 'updated_at', 'balance_after', 'description', 'metadata']) c;
    INSERT INTO credits_ops.adapter_statement VALUES
        ('ledger_append_many', format(
            'INSERT INTO %s (%s) SELECT %s FROM unnest($1::text[], $2::bigint[], $4::text[], $5::bigint[], $6::text[], $7::jsonb[]) '
            'AS x (p1, p2, p4, p5, p6, p7) ON CONFLICT DO NOTHING RETURNING %s::text, %s::text',
            l_table, array_to_string(v_cols, ', '), array_to_string(v_vals, ', '),
            credits_ops.profile_column(p_profile, 'ledger', 'recharge_id'),
            credits_ops.profile_column(p_profile, 'ledger', 'id')));

    -- Balances moved by $2 (and total_recharged by $3), one row per user in $1.
    v_sets := format('%1$s = b.%1$s + x.p2', credits_ops.profile_column(p_profile, 'balances', 'balance'));
    IF credits_ops.profile_column(p_profile, 'balances', 'total_recharged') IS NOT NULL THEN
        v_sets := v_sets || format(', %1$s = b.%1$s + x.p3', credits_ops.profile_column(p_profile, 'balances', 'total_recharged'));
    END IF;
    IF credits_ops.profile_column(p_profile, 'balances', 'updated_at') IS NOT NULL THEN
        v_sets := v_sets || format(', %s = %s', credits_ops.profile_column(p_profile, 'balances', 'updated_at'),
                                   credits_ops.profile_now(p_profile, 'balances', 'updated_at'));
    END IF;
    INSERT INTO credits_ops.adapter_statement VALUES
        ('balance_add_many', format(
            'UPDATE %s b SET %s FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x (p1, p2, p3) WHERE b.%s::text = x.p1',
            b_table, v_sets, credits_ops.profile_column(p_profile, 'balances', 'user_id'))),
        ('balance_set_many', format(
            'UPDATE %s b SET %s = x.p2%s FROM unnest($1::text[], $2::bigint[]) AS x (p1, p2) WHERE b.%s::text = x.p1',
            b_table, credits_ops.profile_column(p_profile, 'balances', 'balance'),
            coalesce(', ' || credits_ops.profile_column(p_profile, 'balances', 'updated_at') || ' = '
                     || credits_ops.profile_now(p_profile, 'balances', 'updated_at'), ''),
            credits_ops.profile_column(p_profile, 'balances', 'user_id'))),
        ('recharge_complete_many', format(
            'UPDATE %s SET %s = %L::text::%s%s WHERE %s::text = ANY ($1::text[]) AND %s::text <> %L',
            r_table, credits_ops.profile_column(p_profile, 'recharges', 'status'),
            p_profile #>> '{statuses,completed}', credits_ops.profile_type(p_profile, 'recharges', 'status'),
            coalesce(', ' || credits_ops.profile_column(p_profile, 'recharges', 'updated_at') || ' = '
                     || credits_ops.profile_now(p_profile, 'recharges', 'updated_at'), ''),
            credits_ops.profile_column(p_profile, 'recharges', 'id'),
            credits_ops.profile_column(p_profile, 'recharges', 'status'),
            p_profile #>> '{statuses,completed}'));

    -- New balance rows at 0 for the users in $1, filled as V002's balance_create.
    v_cols := ARRAY[credits_ops.profile_column(p_profile, 'balances', 'user_id'),
                    credits_ops.profile_column(p_profile, 'balances', 'balance')];
    v_vals := ARRAY[format('x.p1::text::%s', credits_ops.profile_type(p_profile, 'balances', 'user_id')), '0'];
    SELECT v_cols || coalesce(array_agg(c.col), '{}'), v_vals || coalesce(array_agg(c.val), '{}')
      INTO v_cols, v_vals
      FROM credits_ops.profile_fill(p_profile, 'balances',
                                    ARRAY['id', 'total_recharged', 'total_consumed', 'created_at', 'updated_at']) c;
    INSERT INTO credits_ops.adapter_statement VALUES
        ('balance_create_many', format(
            'INSERT INTO %s (%s) SELECT %s FROM unnest($1::text[]) AS x (p1) ON CONFLICT DO NOTHING',
            b_table, array_to_string(v_cols, ', '), array_to_string(v_vals, ', ')));
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.build_set_statements(jsonb) FROM PUBLIC;

-- build_adapter (V002) stores the profile last: the set statements follow
-- every rebuild.
CREATE FUNCTION credits_ops.rebuild_set_statements()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM credits_ops.build_set_statements(NEW.profile);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER rebuild_set_statements
AFTER INSERT OR UPDATE ON credits_ops.app_profile
FOR EACH ROW EXECUTE FUNCTION credits_ops.rebuild_set_statements();

SELECT credits_ops.build_set_statements(p.profile) FROM credits_ops.app_profile p;

-- What crediting each recharge would do, read-only. A completed recharge is
-- credited as it is; a pending or failed one only with evidence of payment
-- (V003) or an attestation (p_attested, below);
-- refunded, canceled and unknown statuses never. action is one of credit,
-- already_credited, not_creditable, no_evidence, forgeable_evidence,
-- not_found; evidence says why a credit is allowed.
-- p_attested maps a recharge id or a payment intent to the evidence for it:
-- a text (e.g. what Stripe's API answered, with its request id), or JSON
-- null for the operator's own word (`attested by <operator>`).
CREATE FUNCTION credits_ops.credit_plan(
    p_ids text[], p_attested jsonb, p_operator text, p_trust_app_evidence boolean)
RETURNS TABLE (recharge_id text, user_id text, payment_intent_id text, amount bigint,
               status text, app_status text, created_at timestamptz, action text, evidence text,
               transaction_id text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public, pg_temp
SET jit = off
AS $fn$
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
$fn$;

REVOKE ALL ON FUNCTION credits_ops.credit_plan(text[], jsonb, text, boolean) FROM PUBLIC;


-- One recharge on its way through credit_recharges: its plan, then what
-- was done. Kept in arrays of this type, not a temporary table: the
-- webhook calls apply_recharge for every payment, and a temporary table per
-- call would churn the catalog.
CREATE TYPE credits_ops.credit_row AS (
    recharge_id text, user_id text, payment_intent_id text, amount bigint, status text,
    app_status text, created_at timestamptz, action text, evidence text, transaction_id text,
    balance_before bigint, balance_after bigint);

-- The one crediting path. With p_skip_locked, a recharge or balance row
-- another session holds is not waited for: its recharges come back as
-- skipped_locked. Without it, locks are waited for (up to lock_timeout), as
-- the webhook wants. Running it again changes nothing: a credited recharge
-- has its transaction. It never updates or deletes a ledger row.
CREATE FUNCTION credits_ops.credit_recharges(
    p_ids text[], p_attested jsonb, p_operator text, p_reason text, p_command text,
    p_trust_app_evidence boolean, p_skip_locked boolean)
RETURNS SETOF credits_ops.credit_row
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
SET jit = off
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
    EXECUTE credits_ops.adapter_sql('balance_create_many')
      USING ARRAY(SELECT u FROM unnest(v_users) AS u
                  WHERE NOT EXISTS (SELECT FROM credits_ops.app_balance b WHERE b.user_id = u OFFSET 0));
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
    EXECUTE format('WITH inserted (recharge_id, transaction_id) AS (%s) '
                   'SELECT coalesce(array_agg(recharge_id), ''{}''), coalesce(array_agg(transaction_id), ''{}'') '
                   'FROM inserted', credits_ops.adapter_sql('ledger_append_many'))
       INTO v_inserted, v_tx_ids
      USING v_new_users, v_new_amounts, v_app_type, v_new_ids, v_new_after,
            array_fill(format('credits %s%s', p_command, coalesce(': ' || p_reason, '')),
                       ARRAY[cardinality(v_new_ids)]),
            array_fill(jsonb_build_object('written_by', 'credits', 'command', p_command, 'reason', p_reason),
                       ARRAY[cardinality(v_new_ids)]);
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
    EXECUTE 'WITH moved AS (SELECT c.user_id, sum(c.amount)::bigint AS credits FROM unnest($1) c '
            'WHERE c.action = ''credited'' GROUP BY c.user_id) '
            'SELECT coalesce(array_agg(m.user_id), ''{}''), coalesce(array_agg(m.credits), ''{}'') '
            'FROM moved m JOIN unnest($2, $3) AS h (user_id, balance) ON h.user_id = m.user_id '
            'JOIN credits_ops.app_balance b ON b.user_id = m.user_id WHERE b.balance = h.balance'
       INTO v_users, v_before
      USING v_plan, v_held, v_before;
    EXECUTE credits_ops.adapter_sql('balance_add_many') USING v_users, v_before, v_before;
    EXECUTE credits_ops.adapter_sql('recharge_complete_many')
      USING ARRAY(SELECT c.recharge_id FROM unnest(v_plan) c WHERE c.action = 'credited');

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

REVOKE ALL ON FUNCTION credits_ops.credit_recharges(text[], jsonb, text, text, text, boolean, boolean) FROM PUBLIC;

-- The webhook's entry point (V007), now on the one crediting path.
CREATE OR REPLACE FUNCTION credits_ops.apply_recharge(
    p_recharge_id text,
    p_operator text DEFAULT NULL,
    p_reason text DEFAULT NULL,
    p_command text DEFAULT 'apply_recharge',
    p_attested boolean DEFAULT false,
    p_trust_app_evidence boolean DEFAULT false)
RETURNS TABLE (action text, transaction_id text, credits bigint,
               balance_before bigint, balance_after bigint)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT c.action, c.transaction_id,
           CASE c.action WHEN 'credited' THEN c.amount WHEN 'already_credited' THEN 0 END,
           c.balance_before, c.balance_after
    FROM credits_ops.credit_recharges(ARRAY[p_recharge_id],
                                      CASE WHEN p_attested THEN jsonb_build_object(p_recharge_id, NULL)
                                           ELSE '{}' END,
                                      p_operator, p_reason, p_command, p_trust_app_evidence, false) c;
$fn$;

-- The repair of a batch of users (`credits bulk-fix`, `fix-user`): credit
-- every completed recharge without its transaction, mark credited
-- pending/failed recharges completed, report duplicates and amount
-- mismatches (or, with p_reverse_duplicates, append one compensating
-- `adjustment` per duplicated recharge), then set each cached balance to
-- its ledger sum. Every change is audited; running it again changes
-- nothing. One row per thing done or seen, in the columns every repair
-- returns. With p_skip_locked (bulk-fix), a user with a recharge or balance
-- row another session holds is left alone, as one skipped_locked row;
-- without it (fix-user) those locks are waited for, up to lock_timeout.
-- p_stripe is what Stripe said of the recharges to credit, when the
-- operator asked it (--verify-with-stripe, --stripe-export): {"paid":
-- {payment intent: evidence}, "refused": {recharge id: why}}. A refused
-- recharge is not credited, and comes back as not_paid_in_stripe.
CREATE FUNCTION credits_ops.fix_users(
    p_users text[],
    p_operator text DEFAULT NULL,
    p_reason text DEFAULT NULL,
    p_command text DEFAULT 'fix_user',
    p_reverse_duplicates boolean DEFAULT false,
    p_skip_locked boolean DEFAULT false,
    p_stripe jsonb DEFAULT NULL)
RETURNS TABLE (user_id text, recharge_id text, payment_intent_id text, action text,
               credits bigint, detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET jit = off
AS $fn$
DECLARE
    v_operator text := coalesce(p_operator, session_user::text);
    v_row      record;
    v_ids      text[];
    v_users    text[];
    v_sums     bigint[];
    v_balances bigint[];
    v_held     text[];
    v_before   bigint;
    v_excess   bigint;
BEGIN
    -- The lock order of every writer: all the users' recharge rows (by id),
    -- then balance rows. Taking them first means a webhook crediting
    -- another recharge of these users meanwhile waits or goes first, and
    -- never deadlocks with us.
    IF p_skip_locked THEN
        v_ids := ARRAY(SELECT r.id FROM credits_ops.app_recharge r
                       WHERE r.user_id = ANY (p_users) ORDER BY r.id FOR UPDATE SKIP LOCKED);
        v_users := ARRAY(SELECT b.user_id FROM credits_ops.app_balance b
                         WHERE b.user_id = ANY (p_users) ORDER BY b.user_id FOR UPDATE SKIP LOCKED);
        -- Held by someone else: a recharge or a balance row we did not get.
        v_held := ARRAY(SELECT r.user_id FROM credits_ops.app_recharge r
                        WHERE r.user_id = ANY (p_users) AND r.id <> ALL (v_ids)
                        UNION
                        SELECT b.user_id FROM credits_ops.app_balance b
                        WHERE b.user_id = ANY (p_users) AND b.user_id <> ALL (v_users));
        RETURN QUERY SELECT h, NULL::text, NULL::text, 'skipped_locked'::text, NULL::bigint,
                            'rows locked by another session (the webhook, another repair): run again'::text
                       FROM unnest(v_held) AS h;
        p_users := ARRAY(SELECT u FROM unnest(p_users) AS u WHERE u <> ALL (v_held));
    ELSE
        PERFORM FROM credits_ops.app_recharge r WHERE r.user_id = ANY (p_users) ORDER BY r.id FOR UPDATE;
    END IF;

    RETURN QUERY
    SELECT r.user_id, r.id, r.payment_intent_id, 'not_paid_in_stripe'::text, r.amount,
           p_stripe #>> ARRAY['refused', r.id]
      FROM credits_ops.app_recharge r
     WHERE r.id IN (SELECT jsonb_object_keys(coalesce(p_stripe -> 'refused', '{}')))
       AND r.user_id = ANY (p_users);

    RETURN QUERY
    SELECT c.user_id, c.recharge_id, c.payment_intent_id, c.action,
           CASE c.action WHEN 'credited' THEN c.amount WHEN 'already_credited' THEN 0 END,
           format('balance %s -> %s', c.balance_before, c.balance_after)
    FROM credits_ops.credit_recharges(
        ARRAY(SELECT r.id FROM credits_ops.app_recharge r
              WHERE r.user_id = ANY (p_users) AND r.status = 'completed'
                AND NOT coalesce(p_stripe -> 'refused' ? r.id, false)
                AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                                WHERE t.related_recharge_id = r.id AND t.type = 'recharge' OFFSET 0)),
        coalesce(p_stripe -> 'paid', '{}'), v_operator, p_reason, p_command, false, false) c;

    SELECT coalesce(array_agg(r.id ORDER BY r.id), '{}'), coalesce(array_agg(r.user_id ORDER BY r.id), '{}')
      INTO v_ids, v_users
      FROM credits_ops.app_recharge r
     WHERE r.user_id = ANY (p_users) AND r.status IN ('pending', 'failed')
       AND EXISTS (SELECT FROM credits_ops.app_transaction t
                   WHERE t.related_recharge_id = r.id AND t.type = 'recharge' OFFSET 0);
    IF cardinality(v_ids) > 0 THEN
        EXECUTE credits_ops.adapter_sql('recharge_complete_many') USING v_ids;
        INSERT INTO credits_ops.repair_log (operator, reason, command, recharge_id, user_id, action, credits_delta)
        SELECT v_operator, p_reason, p_command, m.id, m.user_id, 'marked_completed', 0
          FROM unnest(v_ids, v_users) AS m (id, user_id);
        RETURN QUERY SELECT m.user_id, m.id, NULL::text, 'marked_completed'::text, 0::bigint,
                            'credited already; status set to completed'::text
                       FROM unnest(v_ids, v_users) AS m (id, user_id);
    END IF;

    -- Credits granted for a recharge beyond its amount, net of earlier
    -- reversals (adjustments linked to it), so reversing twice is a no-op.
    -- Rare, and a decision: one at a time, through V007's one-row writers.
    FOR v_row IN
        SELECT r.id, r.user_id, r.amount, t.credited, t.n, t.adjusted
          FROM credits_ops.app_recharge r
          CROSS JOIN LATERAL (
              SELECT sum(t.amount) FILTER (WHERE t.type = 'recharge') AS credited,
                     count(*) FILTER (WHERE t.type = 'recharge') AS n,
                     coalesce(sum(t.amount) FILTER (WHERE t.type = 'adjustment'), 0) AS adjusted
                FROM credits_ops.app_transaction t
               WHERE t.related_recharge_id = r.id) t
         WHERE r.user_id = ANY (p_users) AND t.n > 1
         ORDER BY r.user_id, r.id
    LOOP
        v_excess := v_row.credited + v_row.adjusted - v_row.amount;
        IF v_excess <= 0 THEN
            CONTINUE;
        ELSIF p_reverse_duplicates THEN
            v_before := credits_ops.lock_balance(v_row.user_id);
            PERFORM credits_ops.append_ledger(v_row.user_id, -v_excess, 'adjustment', v_row.id,
                                              (SELECT coalesce(sum(t.amount), 0)::bigint - v_excess
                                                 FROM credits_ops.app_transaction t WHERE t.user_id = v_row.user_id),
                                              p_command, p_reason);
            EXECUTE credits_ops.adapter_sql('balance_add') USING v_row.user_id, -v_excess, -v_excess;
            INSERT INTO credits_ops.repair_log (operator, reason, command, recharge_id, user_id, action, credits_delta,
                                                balance_before, balance_after, detail)
            VALUES (v_operator, p_reason, p_command, v_row.id, v_row.user_id, 'duplicate_reversed', -v_excess,
                    v_before, v_before - v_excess, jsonb_build_object('recharge_transactions', v_row.n));
            RETURN QUERY SELECT v_row.user_id, v_row.id, NULL::text, 'duplicate_reversed'::text, -v_excess,
                                format('%s recharge transactions; %s credits reversed by an adjustment', v_row.n, v_excess);
        ELSE
            RETURN QUERY SELECT v_row.user_id, v_row.id, NULL::text, 'duplicate_reported'::text, v_excess,
                                format('%s recharge transactions grant %s credits too many; rerun with --reverse-duplicates', v_row.n, v_excess);
        END IF;
    END LOOP;

    RETURN QUERY
    SELECT r.user_id, r.id, NULL::text, 'amount_mismatch_reported'::text, (r.amount - t.amount)::bigint,
           format('recharge of %s, transaction granted %s: review by hand', r.amount, t.amount)
      FROM credits_ops.app_recharge r
      CROSS JOIN LATERAL (SELECT t.amount FROM credits_ops.app_transaction t
                          WHERE t.related_recharge_id = r.id AND t.type = 'recharge' OFFSET 0) t
     WHERE r.user_id = ANY (p_users) AND t.amount <> r.amount
     ORDER BY r.user_id, r.id;

    -- Last, the cached balances: each the sum of its ledger, read under the
    -- balance row's lock so a concurrent apply_recharge is wholly in or out.
    -- A user with ledger rows and no balance row gets one.
    EXECUTE credits_ops.adapter_sql('balance_create_many')
      USING ARRAY(SELECT u FROM unnest(p_users) AS u
                  WHERE EXISTS (SELECT FROM credits_ops.app_transaction t WHERE t.user_id = u OFFSET 0)
                    AND NOT EXISTS (SELECT FROM credits_ops.app_balance b WHERE b.user_id = u OFFSET 0));
    -- Locked in a statement of its own: the ledger is summed in the next
    -- one, whose snapshot sees every credit committed before the lock.
    PERFORM FROM credits_ops.app_balance b WHERE b.user_id = ANY (p_users) ORDER BY b.user_id FOR UPDATE;
    SELECT coalesce(array_agg(d.user_id ORDER BY d.user_id), '{}'),
           coalesce(array_agg(d.balance ORDER BY d.user_id), '{}'),
           coalesce(array_agg(d.ledger ORDER BY d.user_id), '{}')
      INTO v_users, v_balances, v_sums
      FROM (SELECT b.user_id, b.balance, coalesce(l.total, 0)::bigint AS ledger
              FROM credits_ops.app_balance b
              CROSS JOIN LATERAL (SELECT sum(t.amount) AS total FROM credits_ops.app_transaction t
                                  WHERE t.user_id = b.user_id) l
             WHERE b.user_id = ANY (p_users) AND b.balance IS DISTINCT FROM coalesce(l.total, 0)) d;
    IF cardinality(v_users) > 0 THEN
        EXECUTE credits_ops.adapter_sql('balance_set_many') USING v_users, v_sums;
        INSERT INTO credits_ops.repair_log (operator, reason, command, user_id, action, credits_delta, balance_before, balance_after)
        SELECT v_operator, p_reason, p_command, d.user_id, 'balance_corrected', d.ledger - d.balance, d.balance, d.ledger
          FROM unnest(v_users, v_balances, v_sums) AS d (user_id, balance, ledger);
        RETURN QUERY SELECT d.user_id, NULL::text, NULL::text, 'balance_corrected'::text, d.ledger - d.balance,
                            format('balance %s -> %s (the ledger sum)', d.balance, d.ledger)
                       FROM unnest(v_users, v_balances, v_sums) AS d (user_id, balance, ledger);
    END IF;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.fix_users(text[], text, text, text, boolean, boolean, jsonb) FROM PUBLIC;

-- One user (V007's signature: `credits fix-user`, psql, the runbook's
-- manual_fix_user_credits), on the batch repair.
CREATE OR REPLACE FUNCTION credits_ops.fix_user(
    p_user_id text,
    p_operator text DEFAULT NULL,
    p_reason text DEFAULT NULL,
    p_command text DEFAULT 'fix_user',
    p_reverse_duplicates boolean DEFAULT false)
RETURNS TABLE (recharge_id text, action text, credits bigint, detail text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT f.recharge_id, f.action, f.credits, f.detail
    FROM credits_ops.fix_users(ARRAY[p_user_id], p_operator, p_reason, p_command, p_reverse_duplicates) f;
$fn$;

-- The failed (and, with p_include_pending, stuck pending) recharges created
-- since p_since without their transaction, by id, after p_after, at most
-- p_limit: what `credits retry-failed` plans from, read-only.
CREATE FUNCTION credits_ops.retry_candidates(
    p_since timestamptz, p_include_pending boolean, p_stuck_after interval,
    p_after text DEFAULT NULL, p_limit integer DEFAULT NULL)
RETURNS TABLE (recharge_id text, status text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT r.id, r.status
      FROM credits_ops.app_recharge r
     WHERE r.created_at >= p_since
       AND (r.status = 'failed'
            OR (p_include_pending AND r.status = 'pending' AND r.created_at < now() - p_stuck_after))
       AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                       WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
       AND (p_after IS NULL OR r.id > p_after)
     ORDER BY r.id
     LIMIT p_limit;
$fn$;

REVOKE ALL ON FUNCTION credits_ops.retry_candidates(timestamptz, boolean, interval, text, integer) FROM PUBLIC;

-- What a retry did (or, for a planned row, would do) to one recharge, in
-- the columns every repair returns: credits is what was granted, or for a
-- recharge left alone the amount at stake. Shared by the retry and its plan.
CREATE FUNCTION credits_ops.retry_outcome(
    c credits_ops.credit_row,
    OUT user_id text, OUT recharge_id text, OUT payment_intent_id text, OUT action text,
    OUT credits bigint, OUT detail text)
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT c.user_id, c.recharge_id, c.payment_intent_id,
           CASE c.action WHEN 'credit' THEN 'credited' ELSE c.action END,
           CASE WHEN c.action IN ('credit', 'credited', 'no_evidence', 'forgeable_evidence', 'skipped_locked')
                THEN c.amount ELSE 0 END,
           CASE
               WHEN c.action IN ('credit', 'credited') THEN
                   format('was %s; evidence: %s', c.status, c.evidence)
                   || coalesce(format('; balance %s -> %s', c.balance_before, c.balance_after), '')
               WHEN c.action = 'skipped_locked' THEN
                   'the recharge or balance row is locked by another session (the webhook, or another repair); run again'
               WHEN c.action = 'no_evidence' AND c.payment_intent_id IS NULL THEN
                   format('%s, no payment intent: nothing to verify in Stripe; left as it is', c.status)
               WHEN c.action = 'no_evidence' THEN
                   format('%s, no evidence of payment stored: verify in the Stripe dashboard, then rerun with --paid %s',
                          c.status, c.payment_intent_id)
               WHEN c.action = 'forgeable_evidence' THEN
                   format('%s; the only evidence is %s, which anon or a signed-in user can write: '
                          'verify %s in Stripe, then rerun with --paid %s (or --trust-app-evidence)',
                          c.status, c.evidence, c.payment_intent_id, c.payment_intent_id)
               ELSE format('%s; left as it is', c.status) END;
$fn$;

REVOKE ALL ON FUNCTION credits_ops.retry_outcome(credits_ops.credit_row) FROM PUBLIC;

-- Retries the given recharges (failed or stuck pending), never waiting on
-- another session: a row someone else holds is reported skipped_locked.
-- p_attested: attestations, as for credit_plan.
CREATE FUNCTION credits_ops.retry_recharges(
    p_ids text[], p_attested jsonb, p_operator text, p_reason text, p_command text,
    p_trust_app_evidence boolean)
RETURNS TABLE (user_id text, recharge_id text, payment_intent_id text, action text,
               credits bigint, detail text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT o.*
    FROM credits_ops.credit_recharges(p_ids, p_attested, p_operator, p_reason, p_command,
                                      p_trust_app_evidence, true) c,
         LATERAL credits_ops.retry_outcome(c) o;
$fn$;

REVOKE ALL ON FUNCTION credits_ops.retry_recharges(text[], jsonb, text, text, text, boolean) FROM PUBLIC;

-- V008's signature (the runbook's retry_failed_payments() calls it), on the
-- set-based retry.
CREATE OR REPLACE FUNCTION credits_ops.retry_failed(
    p_since timestamptz,
    p_include_pending boolean,
    p_stuck_after interval,
    p_attested text[],
    p_operator text,
    p_reason text,
    p_command text,
    p_after text DEFAULT NULL,
    p_limit integer DEFAULT NULL,
    p_trust_app_evidence boolean DEFAULT false)
RETURNS TABLE (recharge_id text, user_id text, payment_intent_id text, credits bigint,
               action text, detail text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT r.recharge_id, r.user_id, r.payment_intent_id, r.credits, r.action, r.detail
    FROM credits_ops.retry_recharges(
        ARRAY(SELECT c.recharge_id FROM credits_ops.retry_candidates(p_since, p_include_pending, p_stuck_after,
                                                                     p_after, p_limit) c),
        (SELECT coalesce(jsonb_object_agg(a, NULL), '{}') FROM unnest(p_attested) AS a),
        p_operator, p_reason, p_command, p_trust_app_evidence) r
    ORDER BY r.recharge_id;
$fn$;
