-- The diagnosis facts kept as the app writes, so `credits health` (run by
-- monitors every minute) and `credits debug` read the few exceptional
-- recharges and users instead of the whole ledger. At a million recharges
-- the facts of V013 took 3.8 s to compute from the tables, at ten million a
-- minute and more; read from here they take milliseconds plus the cost of
-- the changes since the last refresh.
--
-- What is kept:
--   * credits_ops.kept_recharge_fact: V013's recharge_facts row of every
--     recharge, at any age, that is not plainly credited (completed, with
--     exactly one `recharge` transaction of its amount: the rows no check
--     flags, sql/debug/facts.sql). A few percent of the recharges.
--   * credits_ops.kept_user_fact: V013's user_facts row of every user whose
--     cached balance differs from the ledger's sum, or who has ledger rows
--     and no balance row.
--   * credits_ops.kept_fact_change: one row per recharge or user an app
--     write touched since the last refresh, appended by row triggers on the
--     app's recharges, ledger and balances tables (the app profile's,
--     whatever their names) in the writer's own transaction: a change and
--     its mark commit together or not at all. No index, so an append costs
--     one heap insert.
-- The views credits_ops.kept_recharge_facts and kept_user_facts read the
-- kept rows of untouched keys plus the facts of touched keys computed
-- afresh (by index: V004), so they always equal V013's views, whether the
-- last refresh was a second or a day ago, on the primary or on a replica.
-- credits_ops.refresh_kept_facts() folds the marks into the kept rows
-- (health and debug call it before reading, on the primary).
--
-- The state is built by credits_ops.build_kept_facts(), which `credits
-- install` runs after the migrations, outside their transaction, because
-- it reads every row once (as long as one `credits debug` used to). Until
-- it is built, or after it is invalidated, the commands compute the facts
-- from the tables as before and say why. It is not trusted after an app
-- table is truncated (no row trigger fires) or the app profile changes; the
-- triggers fire even with session_replication_role = replica (ENABLE
-- ALWAYS: a restore or a replication apply still marks what it writes).
-- What no trigger can see: an app table's triggers disabled by hand for a
-- while. `credits debug --rescan` reads the tables and can be compared.
--
-- A mark is one insert into a table without constraints, indexes or RLS,
-- so it fails only where the app's own write would (a full disk), or when
-- credits_ops is broken by hand: drop the triggers before its tables
-- (DROP SCHEMA credits_ops CASCADE does). There is deliberately no
-- exception block: each would be a subtransaction per row, and a bulk
-- write of more than 64 rows in one transaction (a bulk-fix batch, an app's
-- batch job) would overflow PostgreSQL's per-backend subtransaction cache,
-- slowing every snapshot on the server while it runs. The functions are
-- SECURITY DEFINER, so API roles writing the app's tables mark their
-- changes without any grant on this schema.

CREATE TABLE credits_ops.kept_recharge_fact AS
SELECT * FROM credits_ops.recharge_facts WITH NO DATA;
ALTER TABLE credits_ops.kept_recharge_fact ADD PRIMARY KEY (id);

CREATE TABLE credits_ops.kept_user_fact AS
SELECT * FROM credits_ops.user_facts WITH NO DATA;
-- Not unique: an app may keep more than one balance row per user (V013
-- then has one row per balance row).
CREATE INDEX kept_user_fact_user_idx ON credits_ops.kept_user_fact (user_id);

CREATE TABLE credits_ops.kept_fact_change (
    -- a recharge id, a user id, or 't': what made the facts untrustworthy
    kind "char" NOT NULL CHECK (kind IN ('r', 'u', 't')),
    key  text
);
-- Only the rare truncation marks are indexed (sql/kept/state.sql looks for
-- one at every read); the others are read whole.
CREATE INDEX kept_fact_change_truncated_idx ON credits_ops.kept_fact_change (kind) WHERE kind = 't';

CREATE TABLE credits_ops.kept_facts_state (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    built_at        timestamptz,
    build_seconds   numeric,
    invalidated_at  timestamptz,
    invalidated_why text
);
INSERT INTO credits_ops.kept_facts_state DEFAULT VALUES;

REVOKE ALL ON credits_ops.kept_recharge_fact, credits_ops.kept_user_fact,
    credits_ops.kept_fact_change, credits_ops.kept_facts_state FROM PUBLIC;

-- The rule of sql/debug/facts.sql, in one place: a recharge no check flags.
-- Callers keep the rows where NOT plainly_credited(...) is true; a NULL
-- (no amount to compare) is left out, as facts.sql always did.
CREATE FUNCTION credits_ops.plainly_credited(p_status text, p_credits_n bigint,
                                             p_smallest_credit bigint, p_amount bigint)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT p_status = 'completed' AND p_credits_n = 1 AND p_smallest_credit = p_amount;
$fn$;

-- A user no check flags: a balance row equal to the ledger's sum.
CREATE FUNCTION credits_ops.balanced_user(p_has_balance_row boolean, p_balance bigint,
                                          p_ledger_sum numeric)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT p_has_balance_row AND p_balance IS NOT DISTINCT FROM p_ledger_sum;
$fn$;

-- V013's recharge_facts of the given recharges, at any age, each read by
-- its id and its ledger rows by recharge (the indexes of V004).
CREATE FUNCTION credits_ops.facts_of_recharges(p_ids text[])
RETURNS SETOF credits_ops.kept_recharge_fact
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT r.*,
           l.credits_n,
           coalesce(l.credited, 0),
           coalesce(l.adjusted, 0),
           coalesce(l.net, 0),
           l.smallest_credit,
           l.largest_credit
    FROM credits_ops.app_recharge r
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE t.type = 'recharge') AS credits_n,
               sum(t.amount) FILTER (WHERE t.type = 'recharge') AS credited,
               sum(t.amount) FILTER (WHERE t.type = 'adjustment') AS adjusted,
               sum(t.amount) AS net,
               min(t.amount) FILTER (WHERE t.type = 'recharge') AS smallest_credit,
               max(t.amount) FILTER (WHERE t.type = 'recharge') AS largest_credit
        FROM credits_ops.app_transaction t
        WHERE t.related_recharge_id = r.id
    ) l
    WHERE r.id = ANY (p_ids);
$fn$;

-- V013's user_facts of the given users, by index. A NULL in p_ids stands
-- for the ledger rows without a user, which V013 groups as one.
CREATE FUNCTION credits_ops.facts_of_users(p_ids text[])
RETURNS SETOF credits_ops.kept_user_fact
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT u.user_id, l.n, coalesce(l.total, 0), b.balance, b.user_id IS NOT NULL
    FROM (SELECT DISTINCT x FROM unnest(p_ids) AS x WHERE x IS NOT NULL) AS u (user_id)
    CROSS JOIN LATERAL (
        SELECT count(*) AS n, sum(t.amount) AS total
        FROM credits_ops.app_transaction t
        WHERE t.user_id = u.user_id
    ) l
    LEFT JOIN credits_ops.app_balance b ON b.user_id = u.user_id
    WHERE l.n > 0 OR b.user_id IS NOT NULL
    UNION ALL
    SELECT NULL, count(*), coalesce(sum(t.amount), 0), NULL, false
    FROM credits_ops.app_transaction t
    WHERE t.user_id IS NULL AND array_position(p_ids, NULL) IS NOT NULL
    HAVING count(*) > 0;
$fn$;

-- The facts as V013's views give them, in the same scope (the settings of
-- V016's recharge_scope and V013's user_facts): the kept rows of keys no
-- change touched, and the touched keys' facts computed now.
CREATE VIEW credits_ops.kept_recharge_facts AS
WITH changed AS MATERIALIZED (
    SELECT DISTINCT c.key FROM credits_ops.kept_fact_change c WHERE c.kind = 'r'
), facts AS (
    SELECT f.* FROM credits_ops.kept_recharge_fact f
    WHERE NOT EXISTS (SELECT FROM changed c WHERE c.key = f.id)
    UNION ALL
    SELECT f.* FROM credits_ops.facts_of_recharges(ARRAY(SELECT c.key FROM changed c)) f
    WHERE NOT credits_ops.plainly_credited(f.status, f.credits_n, f.smallest_credit, f.amount)
)
SELECT f.* FROM facts f
WHERE f.created_at >= (SELECT coalesce(nullif(current_setting('credits.since', true), '')::timestamptz,
                                       now() - interval '7 days'))
  AND CASE WHEN (SELECT nullif(current_setting('credits.user_id', true), '')) IS NULL THEN true
           ELSE f.user_id = (SELECT nullif(current_setting('credits.user_id', true), '')) END
  AND CASE WHEN (SELECT nullif(current_setting('credits.payment_intent', true), '')) IS NULL THEN true
           ELSE f.payment_intent_id = (SELECT nullif(current_setting('credits.payment_intent', true), '')) END;

CREATE VIEW credits_ops.kept_user_facts AS
WITH changed AS MATERIALIZED (
    SELECT DISTINCT c.key FROM credits_ops.kept_fact_change c WHERE c.kind = 'u'
), facts AS (
    SELECT f.* FROM credits_ops.kept_user_fact f
    WHERE NOT EXISTS (SELECT FROM changed c WHERE c.key = f.user_id)
      AND NOT (f.user_id IS NULL AND EXISTS (SELECT FROM changed c WHERE c.key IS NULL))
    UNION ALL
    SELECT f.* FROM credits_ops.facts_of_users(ARRAY(SELECT c.key FROM changed c)) f
    WHERE NOT credits_ops.balanced_user(f.has_balance_row, f.balance, f.ledger_sum)
)
SELECT f.* FROM facts f
WHERE CASE WHEN (SELECT nullif(current_setting('credits.user_id', true), '')) IS NULL THEN true
           ELSE f.user_id = (SELECT nullif(current_setting('credits.user_id', true), '')) END;

REVOKE ALL ON credits_ops.kept_recharge_facts, credits_ops.kept_user_facts FROM PUBLIC;

-- Marks the state unusable, saying why (a changed profile; by hand after
-- maintenance that disabled the triggers); never fails.
CREATE FUNCTION credits_ops.invalidate_kept_facts(p_why text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE credits_ops.kept_facts_state
       SET invalidated_at = now(), invalidated_why = left(p_why, 500)
     WHERE invalidated_at IS NULL AND built_at IS NOT NULL;
EXCEPTION WHEN OTHERS THEN
    NULL;  -- the app's write matters more
END
$fn$;

-- One lock serializes building and refreshing (pg_advisory_xact_lock key).
CREATE FUNCTION credits_ops.kept_facts_lock_key()
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $fn$ SELECT 7262013640019 $fn$;

-- Computes every kept row from the tables, in the caller's READ COMMITTED
-- transaction: the marks are taken first, so each change is either in a
-- later statement's snapshot (the reads below) or still marked. The state
-- row is locked first, so a TRUNCATE meanwhile invalidates after this
-- commits, not before. Returns the seconds it took and the rows it kept.
CREATE FUNCTION credits_ops.build_kept_facts(OUT seconds numeric, OUT recharges_kept bigint,
                                             OUT users_kept bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_started timestamptz := clock_timestamp();
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'build_kept_facts needs a READ COMMITTED transaction (each statement reads anew)';
    END IF;
    PERFORM pg_advisory_xact_lock(credits_ops.kept_facts_lock_key());
    PERFORM FROM credits_ops.kept_facts_state FOR UPDATE;
    DELETE FROM credits_ops.kept_fact_change;
    DELETE FROM credits_ops.kept_recharge_fact;
    DELETE FROM credits_ops.kept_user_fact;
    PERFORM set_config('credits.since', '-infinity', true),
            set_config('credits.user_id', '', true),
            set_config('credits.payment_intent', '', true);
    INSERT INTO credits_ops.kept_recharge_fact
    SELECT f.* FROM credits_ops.recharge_facts f
    WHERE NOT credits_ops.plainly_credited(f.status, f.credits_n, f.smallest_credit, f.amount);
    GET DIAGNOSTICS recharges_kept = ROW_COUNT;
    INSERT INTO credits_ops.kept_user_fact
    SELECT f.* FROM credits_ops.user_facts f
    WHERE NOT credits_ops.balanced_user(f.has_balance_row, f.balance, f.ledger_sum);
    GET DIAGNOSTICS users_kept = ROW_COUNT;
    ANALYZE credits_ops.kept_recharge_fact, credits_ops.kept_user_fact;
    seconds := round(extract(epoch FROM clock_timestamp() - v_started)::numeric, 3);
    UPDATE credits_ops.kept_facts_state
       SET built_at = now(), build_seconds = seconds, invalidated_at = NULL, invalidated_why = NULL;
END
$fn$;

-- Folds up to p_limit marks into the kept rows, in the caller's READ
-- COMMITTED transaction; returns how many marks it folded (0 when another
-- refresh or a build is running, on a replica, or while the state is not
-- built). The marks are taken in the first statement; the facts are read
-- by later ones, whose snapshots are newer.
CREATE FUNCTION credits_ops.refresh_kept_facts(p_limit integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_recharges text[];
    v_users text[];
    v_taken bigint;
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN 0;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_kept_facts needs a READ COMMITTED transaction (each statement reads anew)';
    END IF;
    IF NOT pg_try_advisory_xact_lock(credits_ops.kept_facts_lock_key())
       OR NOT EXISTS (SELECT FROM credits_ops.kept_facts_state
                      WHERE built_at IS NOT NULL AND invalidated_at IS NULL) THEN
        RETURN 0;
    END IF;
    WITH taken AS (
        DELETE FROM credits_ops.kept_fact_change c
        WHERE c.ctid = ANY (ARRAY(SELECT x.ctid FROM credits_ops.kept_fact_change x
                                  WHERE x.kind <> 't' LIMIT p_limit))
        RETURNING c.kind, c.key
    )
    SELECT array_agg(DISTINCT t.key) FILTER (WHERE t.kind = 'r'),
           array_agg(DISTINCT t.key) FILTER (WHERE t.kind = 'u'),
           count(*)
      INTO v_recharges, v_users, v_taken
      FROM taken t;
    IF v_taken = 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM credits_ops.kept_recharge_fact f WHERE f.id = ANY (v_recharges);
    INSERT INTO credits_ops.kept_recharge_fact
    SELECT f.* FROM credits_ops.facts_of_recharges(v_recharges) f
    WHERE NOT credits_ops.plainly_credited(f.status, f.credits_n, f.smallest_credit, f.amount);
    DELETE FROM credits_ops.kept_user_fact f
    WHERE f.user_id = ANY (v_users) OR (f.user_id IS NULL AND array_position(v_users, NULL) IS NOT NULL);
    INSERT INTO credits_ops.kept_user_fact
    SELECT f.* FROM credits_ops.facts_of_users(v_users) f
    WHERE NOT credits_ops.balanced_user(f.has_balance_row, f.balance, f.ledger_sum);
    RETURN v_taken;
END
$fn$;

-- The triggers on the app's tables, made for the profile's names: made
-- anew (and the state invalidated, for the next install to build) whenever
-- the adapter is rebuilt. The row trigger marks the keys of the row before
-- and after, for every INSERT, UPDATE and DELETE: no WHEN clause (comparing
-- whole rows fails on a json column, and misses a case-only change under a
-- case-insensitive type). It reads the row through to_jsonb, so a column
-- the app renames or drops reads as NULL, never as an error in the app's
-- write: a row without one appends a mark of kind 't' instead, and the
-- trigger's arguments name the columns it reads, so sql/kept/state.sql
-- also sees a missing one before any write. A TRUNCATE fires no row
-- trigger: it appends a mark of kind 't' too (an insert never waits or
-- conflicts, whatever the truncating transaction's snapshot). After a 't'
-- mark the facts are not trusted until the next build.
CREATE FUNCTION credits_ops.build_kept_fact_triggers()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_profile jsonb := (SELECT p.profile FROM credits_ops.app_profile p);
    v_old record;
    v_spec record;
    v_table text;
    v_function text;
BEGIN
    -- The app's own triggers, not their clones on partitions (those go
    -- with them).
    FOR v_old IN
        SELECT t.tgname, t.tgrelid::regclass AS tbl
        FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE p.pronamespace = 'credits_ops'::regnamespace AND p.proname LIKE 'kept\_fact\_mark\_%'
          AND t.tgparentid = 0
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', v_old.tgname, v_old.tbl);
    END LOOP;
    FOR v_spec IN
        SELECT s.role,
               -- ('r', n ->> 'id', n IS NOT NULL), ... for {row} = n (NEW), o (OLD)
               string_agg(format('(%L, {row} ->> %L, {row} IS NOT NULL)', s.kind,
                                 v_profile #>> ARRAY['roles', s.role, 'columns', s.key, 'name']),
                          ', ') AS marks,
               string_agg(quote_literal(v_profile #>> ARRAY['roles', s.role, 'columns', s.key, 'name']),
                          ', ') AS columns
        FROM (VALUES ('recharges', 'r', 'id'),
                     ('ledger', 'r', 'recharge_id'), ('ledger', 'u', 'user_id'),
                     ('balances', 'u', 'user_id')) AS s (role, kind, key)
        GROUP BY s.role
    LOOP
        v_table := format('%I.%I', v_profile #>> ARRAY['roles', v_spec.role, 'schema'],
                          v_profile #>> ARRAY['roles', v_spec.role, 'table']);
        v_function := 'kept_fact_mark_' || v_spec.role;
        -- A row without a recharge (a ledger row of spending) marks none;
        -- a row without a user marks the ledger rows without one.
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION credits_ops.%I()
            RETURNS trigger
            LANGUAGE plpgsql
            SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $body$
            DECLARE
                n jsonb;
                o jsonb;
            BEGIN
                IF TG_OP = 'TRUNCATE' THEN
                    INSERT INTO credits_ops.kept_fact_change (kind, key)
                    VALUES ('t', format('%%I.%%I was truncated', TG_TABLE_SCHEMA, TG_TABLE_NAME));
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    n := to_jsonb(NEW);
                END IF;
                IF TG_OP <> 'INSERT' THEN
                    o := to_jsonb(OLD);
                END IF;
                IF NOT coalesce(n, o) ?& ARRAY[%s] THEN
                    INSERT INTO credits_ops.kept_fact_change (kind, key)
                    VALUES ('t', format('%%I.%%I lost a column the kept facts read', TG_TABLE_SCHEMA, TG_TABLE_NAME));
                    RETURN NULL;
                END IF;
                INSERT INTO credits_ops.kept_fact_change (kind, key)
                SELECT DISTINCT m.kind, m.key
                FROM (VALUES %s, %s) AS m (kind, key, present)
                WHERE m.present AND (m.key IS NOT NULL OR m.kind = 'u');
                RETURN NULL;
            END
            $body$
            $f$, v_function, v_spec.columns,
            replace(v_spec.marks, '{row}', 'n'), replace(v_spec.marks, '{row}', 'o'));
        EXECUTE format('REVOKE ALL ON FUNCTION credits_ops.%I() FROM PUBLIC', v_function);
        EXECUTE format('CREATE TRIGGER credits_kept_facts AFTER INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION credits_ops.%I(%s)', v_table, v_function, v_spec.columns);
        EXECUTE format('CREATE TRIGGER credits_kept_facts_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION credits_ops.%I(%s)', v_table, v_function, v_spec.columns);
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER credits_kept_facts, '
                       'ENABLE ALWAYS TRIGGER credits_kept_facts_truncate', v_table);
    END LOOP;
    PERFORM credits_ops.invalidate_kept_facts('the app profile changed');
END
$fn$;

CREATE FUNCTION credits_ops.rebuild_kept_fact_triggers()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM credits_ops.build_kept_fact_triggers();
    RETURN NULL;
END
$fn$;

CREATE TRIGGER rebuild_kept_fact_triggers
AFTER INSERT OR UPDATE ON credits_ops.app_profile
FOR EACH ROW EXECUTE FUNCTION credits_ops.rebuild_kept_fact_triggers();

REVOKE ALL ON FUNCTION credits_ops.plainly_credited(text, bigint, bigint, bigint),
    credits_ops.balanced_user(boolean, bigint, numeric),
    credits_ops.facts_of_recharges(text[]), credits_ops.facts_of_users(text[]),
    credits_ops.invalidate_kept_facts(text), credits_ops.kept_facts_lock_key(),
    credits_ops.build_kept_facts(), credits_ops.refresh_kept_facts(integer),
    credits_ops.build_kept_fact_triggers(), credits_ops.rebuild_kept_fact_triggers()
    FROM PUBLIC;

SELECT credits_ops.build_kept_fact_triggers();
