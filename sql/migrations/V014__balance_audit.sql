-- credits:on-demand
-- credits:follows-profile
-- The balance audit trail: who moved a balance, and whether the ledger moved
-- with it in the same transaction. Applied by `credits audit enable` (never
-- by `credits install`), recorded in credits_ops.schema_history like every
-- migration; `credits audit disable` drops the triggers and keeps the rows.
-- `credits install` runs it again when it rebuilds the adapter for a changed
-- app (follows-profile), so the triggers read the app's current names.
--
-- Drift is born in one transaction: a balance changed by a different amount
-- than the ledger rows that transaction added. Statement-level AFTER
-- triggers with transition tables on the app's balances, ledger and
-- recharges tables (the app profile's, whatever their names: V002) record,
-- per transaction and user, into credits_ops.balance_audit:
--   * the transaction id, its start time, the role that asked (the role set
--     with SET ROLE, as PostgREST does for Supabase's API roles, else the
--     login role) and application_name;
--   * the balance before the transaction's first change and after its last,
--     and the net change (a created row counts from 0, a deleted one to 0);
--   * the net change of the user's ledger (rows added, minus rows deleted,
--     plus amounts edited) and how many ledger rows were touched;
--   * the recharges whose status changed, from what to what (app spelling).
-- The check BALANCE_MOVED_WITHOUT_LEDGER reads it.
--
-- The triggers never make the app's write fail: any error inside them is
-- caught, written to credits_ops.balance_audit_error (and if even that
-- fails, dropped), and the app's statement goes on. One statement costs one
-- upsert per user it touched. Nothing here is granted to the API roles:
-- PostgreSQL runs a trigger's function without an EXECUTE check, and the
-- functions are SECURITY DEFINER so they can write the audit table.
-- Running it again changes nothing.

CREATE TABLE IF NOT EXISTS credits_ops.balance_audit (
    xact_id          bigint      NOT NULL,  -- txid_current() of the writer
    user_id          text        NOT NULL,  -- the app's id, as text
    at               timestamptz NOT NULL DEFAULT now(),  -- the transaction's start
    db_role          text        NOT NULL,
    application_name text        NOT NULL,
    balance_touched  boolean     NOT NULL DEFAULT false,
    balance_before   bigint,               -- NULL: no balance row before
    balance_after    bigint,               -- NULL: no balance row after
    balance_delta    bigint      NOT NULL DEFAULT 0,
    ledger_delta     bigint      NOT NULL DEFAULT 0,
    ledger_rows      integer     NOT NULL DEFAULT 0,
    status_changes   jsonb       NOT NULL DEFAULT '[]',
    PRIMARY KEY (xact_id, user_id)
);
-- Rows arrive in time order: a BRIN index serves the time windows of the
-- check and of `audit prune` at almost no cost to the writers.
CREATE INDEX IF NOT EXISTS balance_audit_at ON credits_ops.balance_audit USING brin (at);
CREATE INDEX IF NOT EXISTS balance_audit_user ON credits_ops.balance_audit (user_id, at);

CREATE TABLE IF NOT EXISTS credits_ops.balance_audit_error (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    xact_id          bigint,
    db_role          text,
    application_name text,
    app_table        text,
    sqlstate         text,
    message          text
);

REVOKE ALL ON credits_ops.balance_audit, credits_ops.balance_audit_error FROM PUBLIC;

-- A repair of credits moves balances on purpose (a drifted balance set to
-- its ledger's sum) and says so in the audit log in the same transaction:
-- the transaction id lets the check tell those from the app's writers.
ALTER TABLE credits_ops.repair_log ADD COLUMN IF NOT EXISTS xact_id bigint;
ALTER TABLE credits_ops.repair_log ALTER COLUMN xact_id SET DEFAULT txid_current();
CREATE INDEX IF NOT EXISTS repair_log_xact_id ON credits_ops.repair_log (xact_id) WHERE xact_id IS NOT NULL;

-- One change a statement made to one user, as the triggers gather it.
DO $$
BEGIN
    IF to_regtype('credits_ops.balance_audit_change') IS NULL THEN
        CREATE TYPE credits_ops.balance_audit_change AS (
            user_id         text,
            balance_touched boolean,
            balance_before  bigint,
            balance_after   bigint,
            ledger_delta    bigint,
            ledger_rows     integer,
            status_changes  jsonb
        );
    END IF;
END $$;

-- Adds one statement's changes to this transaction's rows: the balance
-- before is the first one seen, after the last one; deltas add up.
-- PL/pgSQL, not SQL, so its plan is cached for the session: planned anew
-- on every call it doubled the trigger's cost (measured).
CREATE OR REPLACE FUNCTION credits_ops.balance_audit_record(p_changes credits_ops.balance_audit_change[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO credits_ops.balance_audit AS a
        (xact_id, user_id, db_role, application_name, balance_touched, balance_before,
         balance_after, balance_delta, ledger_delta, ledger_rows, status_changes)
    SELECT txid_current(), c.user_id,
           coalesce(nullif(current_setting('role'), 'none'), session_user::text),
           current_setting('application_name'),
           c.balance_touched, c.balance_before, c.balance_after,
           CASE WHEN c.balance_touched THEN coalesce(c.balance_after, 0) - coalesce(c.balance_before, 0) ELSE 0 END,
           c.ledger_delta, c.ledger_rows, c.status_changes
    FROM unnest(p_changes) c
    WHERE c.user_id IS NOT NULL
    ON CONFLICT (xact_id, user_id) DO UPDATE
       SET balance_before  = CASE WHEN a.balance_touched THEN a.balance_before ELSE excluded.balance_before END,
           balance_after   = CASE WHEN excluded.balance_touched THEN excluded.balance_after ELSE a.balance_after END,
           balance_touched = a.balance_touched OR excluded.balance_touched,
           balance_delta   = a.balance_delta + excluded.balance_delta,
           ledger_delta    = a.ledger_delta + excluded.ledger_delta,
           ledger_rows     = a.ledger_rows + excluded.ledger_rows,
           status_changes  = a.status_changes || excluded.status_changes;
END
$fn$;

-- One row of a transition table, read by name: its key (what pairs a row
-- before with the same row after), its user and the value watched.
DO $$
BEGIN
    IF to_regtype('credits_ops.balance_audit_row') IS NULL THEN
        CREATE TYPE credits_ops.balance_audit_row AS (key text, user_id text, value text);
    END IF;
END $$;

-- The trigger function of all three tables. TG_ARGV: the table's role
-- (balances, ledger or recharges), then the names of its key, user and
-- watched columns: balances (user_id, user_id, balance), ledger (id,
-- user_id, amount), recharges (id, user_id, status). Columns are read by
-- name through to_jsonb, so one function serves every app's names and types.
CREATE OR REPLACE FUNCTION credits_ops.balance_audit_trigger()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_old     credits_ops.balance_audit_row[];
    v_new     credits_ops.balance_audit_row[];
    v_changes credits_ops.balance_audit_change[];
    v_state   text;
    v_message text;
BEGIN
    BEGIN
        -- A transition table exists only for the events that have it.
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            SELECT array_agg(ROW(j ->> TG_ARGV[1], j ->> TG_ARGV[2], j ->> TG_ARGV[3])::credits_ops.balance_audit_row)
              INTO v_old FROM (SELECT to_jsonb(t) AS j FROM audit_old t) r;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            SELECT array_agg(ROW(j ->> TG_ARGV[1], j ->> TG_ARGV[2], j ->> TG_ARGV[3])::credits_ops.balance_audit_row)
              INTO v_new FROM (SELECT to_jsonb(t) AS j FROM audit_new t) r;
        END IF;

        IF TG_ARGV[0] = 'balances' THEN
            -- Per user (an app may keep more than one row per user): a
            -- user only before lost their row, only after gained one.
            SELECT array_agg(ROW(coalesce(n.user_id, o.user_id), true, o.balance, n.balance, 0, 0, '[]')
                             ::credits_ops.balance_audit_change)
              INTO v_changes
              FROM (SELECT r.user_id, sum(r.value::numeric)::bigint AS balance FROM unnest(v_old) r GROUP BY r.user_id) o
              FULL JOIN (SELECT r.user_id, sum(r.value::numeric)::bigint AS balance FROM unnest(v_new) r GROUP BY r.user_id) n
                ON n.user_id = o.user_id
             WHERE n.balance IS DISTINCT FROM o.balance OR n.user_id IS NULL OR o.user_id IS NULL;
        ELSIF TG_ARGV[0] = 'ledger' THEN
            -- Rows added count for, rows deleted against; an edited amount
            -- counts its difference.
            SELECT array_agg(ROW(l.user_id, false, NULL, NULL, l.delta, l.n, '[]')::credits_ops.balance_audit_change)
              INTO v_changes
              FROM (SELECT c.user_id, sum(c.amount)::bigint AS delta, count(*)::integer AS n
                      FROM (SELECT n.user_id, n.value::numeric AS amount FROM unnest(v_new) n
                            UNION ALL
                            SELECT o.user_id, -o.value::numeric FROM unnest(v_old) o) c
                     GROUP BY c.user_id) l
             WHERE TG_OP <> 'UPDATE' OR l.delta <> 0;
        ELSIF TG_ARGV[0] = 'recharges' THEN
            SELECT array_agg(ROW(s.user_id, false, NULL, NULL, 0, 0, s.changes)::credits_ops.balance_audit_change)
              INTO v_changes
              FROM (SELECT n.user_id, jsonb_agg(jsonb_build_object('recharge_id', n.key, 'from', o.value, 'to', n.value)
                                                ORDER BY n.key) AS changes
                      FROM unnest(v_old) o
                      JOIN unnest(v_new) n ON n.key = o.key
                     WHERE n.value IS DISTINCT FROM o.value
                     GROUP BY n.user_id) s;
        END IF;
        IF v_changes IS NOT NULL THEN
            PERFORM credits_ops.balance_audit_record(v_changes);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        BEGIN
            INSERT INTO credits_ops.balance_audit_error
                (xact_id, db_role, application_name, app_table, sqlstate, message)
            VALUES (txid_current(), coalesce(nullif(current_setting('role'), 'none'), session_user::text),
                    current_setting('application_name'), format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME),
                    v_state, v_message);
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- the app's write matters more than this trail
        END;
    END;
    RETURN NULL;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.balance_audit_record(credits_ops.balance_audit_change[]),
                       credits_ops.balance_audit_trigger() FROM PUBLIC;

-- The triggers, on the app profile's tables (dropped and made anew: the
-- profile may have changed since the last time).
DO $$
DECLARE
    v_profile jsonb := (SELECT p.profile FROM credits_ops.app_profile p);
    v_spec    record;
BEGIN
    FOR v_spec IN
        SELECT s.role, s.op, s.refs, s.columns,
               format('%I.%I', v_profile #>> ARRAY['roles', s.role, 'schema'],
                      v_profile #>> ARRAY['roles', s.role, 'table']) AS app_table
        FROM (VALUES
            ('balances',  'INSERT', 'NEW TABLE AS audit_new',                       ARRAY['user_id', 'user_id', 'balance']),
            ('balances',  'UPDATE', 'OLD TABLE AS audit_old NEW TABLE AS audit_new', ARRAY['user_id', 'user_id', 'balance']),
            ('balances',  'DELETE', 'OLD TABLE AS audit_old',                       ARRAY['user_id', 'user_id', 'balance']),
            ('ledger',    'INSERT', 'NEW TABLE AS audit_new',                       ARRAY['id', 'user_id', 'amount']),
            ('ledger',    'UPDATE', 'OLD TABLE AS audit_old NEW TABLE AS audit_new', ARRAY['id', 'user_id', 'amount']),
            ('ledger',    'DELETE', 'OLD TABLE AS audit_old',                       ARRAY['id', 'user_id', 'amount']),
            ('recharges', 'UPDATE', 'OLD TABLE AS audit_old NEW TABLE AS audit_new', ARRAY['id', 'user_id', 'status'])
        ) AS s (role, op, refs, columns)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s',
                       'credits_audit_' || v_spec.role || '_' || lower(v_spec.op), v_spec.app_table);
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION credits_ops.balance_audit_trigger(%L, %s)',
                       'credits_audit_' || v_spec.role || '_' || lower(v_spec.op), v_spec.op,
                       v_spec.app_table, v_spec.refs, v_spec.role,
                       (SELECT string_agg(quote_literal(v_profile #>> ARRAY['roles', v_spec.role, 'columns', c.name, 'name']), ', ' ORDER BY c.n)
                          FROM unnest(v_spec.columns) WITH ORDINALITY AS c (name, n)));
    END LOOP;
END $$;
