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
-- Each trigger has a function of its own, written below for this app's
-- column names from the stored profile (\sf credits_ops.balance_audit_ledger_insert
-- shows one): reading the columns by name at run time (to_jsonb) made the
-- trigger three times as costly (measured: 0.15 ms against 0.055 ms added
-- to a single-row balance UPDATE).
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
-- A user's trail, for `credits log --writers --user` and `credits support`.
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

-- The trail as it is read (`credits log --writers`, `credits support`,
-- `credits audit status`, the check BALANCE_MOVED_WITHOUT_LEDGER): each row
-- with whether one of credits' own repairs wrote it (an audit-log row in
-- the same transaction, for the same user), and whether the balance moved
-- by another amount than the ledger without such a repair. The one
-- definition of what the trail flags.
CREATE OR REPLACE VIEW credits_ops.balance_writer AS
SELECT a.*, c.by_credits,
       a.balance_delta <> a.ledger_delta AND NOT c.by_credits AS moved_without_ledger
FROM credits_ops.balance_audit a
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT FROM credits_ops.repair_log l
                   WHERE l.xact_id = a.xact_id AND l.user_id = a.user_id) AS by_credits
) c;

REVOKE ALL ON credits_ops.balance_writer FROM PUBLIC;

-- What a trigger does when its statement fails: keeps the error, and if even
-- that fails, drops it. Never raises.
CREATE OR REPLACE FUNCTION credits_ops.balance_audit_failed(p_table text, p_state text, p_message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO credits_ops.balance_audit_error
        (xact_id, db_role, application_name, app_table, sqlstate, message)
    VALUES (txid_current(), coalesce(nullif(current_setting('role'), 'none'), session_user::text),
            current_setting('application_name'), p_table, p_state, p_message);
EXCEPTION WHEN OTHERS THEN
    NULL;  -- the app's write matters more than this trail
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.balance_audit_failed(text, text, text) FROM PUBLIC;

-- The triggers and their functions, on the app profile's tables (dropped and
-- made anew: the profile may have changed since the last time). Each
-- function is one statement: the changes of its event, per user, added to
-- this transaction's rows (the balance before is the first one seen, after
-- the last one; deltas add up). In the templates, {user}, {value} and {key}
-- stand for the user id, watched and key columns of the table.
DO $$
DECLARE
    v_profile jsonb := (SELECT p.profile FROM credits_ops.app_profile p);
    v_spec    record;
    v_name    text;
    v_table   text;
    v_changes text;
    v_upsert  constant text := $sql$
        INSERT INTO credits_ops.balance_audit AS a
            (xact_id, user_id, db_role, application_name, balance_touched, balance_before,
             balance_after, balance_delta, ledger_delta, ledger_rows, status_changes)
        SELECT txid_current(), c.user_id,
               coalesce(nullif(current_setting('role'), 'none'), session_user::text),
               current_setting('application_name'),
               c.balance_touched, c.balance_before, c.balance_after,
               CASE WHEN c.balance_touched THEN coalesce(c.balance_after, 0) - coalesce(c.balance_before, 0) ELSE 0 END,
               c.ledger_delta, c.ledger_rows, c.status_changes
        FROM ({changes}) AS c (user_id, balance_touched, balance_before, balance_after,
                               ledger_delta, ledger_rows, status_changes)
        WHERE c.user_id IS NOT NULL
        ON CONFLICT (xact_id, user_id) DO UPDATE
           SET balance_before  = CASE WHEN a.balance_touched THEN a.balance_before ELSE excluded.balance_before END,
               balance_after   = CASE WHEN excluded.balance_touched THEN excluded.balance_after ELSE a.balance_after END,
               balance_touched = a.balance_touched OR excluded.balance_touched,
               balance_delta   = a.balance_delta + excluded.balance_delta,
               ledger_delta    = a.ledger_delta + excluded.ledger_delta,
               ledger_rows     = a.ledger_rows + excluded.ledger_rows,
               status_changes  = a.status_changes || excluded.status_changes$sql$;
BEGIN
    FOR v_spec IN
        SELECT * FROM (VALUES
            -- A user's balance rows (an app may keep more than one) summed;
            -- a user only before lost their row, only after gained one.
            ('balances', 'INSERT', 'NEW TABLE AS audit_new', 'user_id', 'balance', 'user_id', $sql$
                SELECT t.{user}::text, true, NULL::bigint, sum(t.{value})::bigint, 0::bigint, 0, '[]'::jsonb
                FROM audit_new t GROUP BY 1$sql$),
            ('balances', 'UPDATE', 'OLD TABLE AS audit_old NEW TABLE AS audit_new', 'user_id', 'balance', 'user_id', $sql$
                SELECT coalesce(n.u, o.u), true, o.b, n.b, 0::bigint, 0, '[]'::jsonb
                FROM (SELECT t.{user}::text AS u, sum(t.{value})::bigint AS b FROM audit_old t GROUP BY 1) o
                FULL JOIN (SELECT t.{user}::text AS u, sum(t.{value})::bigint AS b FROM audit_new t GROUP BY 1) n
                  ON n.u = o.u
                WHERE n.b IS DISTINCT FROM o.b OR n.u IS NULL OR o.u IS NULL$sql$),
            ('balances', 'DELETE', 'OLD TABLE AS audit_old', 'user_id', 'balance', 'user_id', $sql$
                SELECT t.{user}::text, true, sum(t.{value})::bigint, NULL::bigint, 0::bigint, 0, '[]'::jsonb
                FROM audit_old t GROUP BY 1$sql$),
            -- Rows added count for, rows deleted against; an edited amount
            -- counts its difference.
            ('ledger', 'INSERT', 'NEW TABLE AS audit_new', 'user_id', 'amount', 'id', $sql$
                SELECT t.{user}::text, false, NULL::bigint, NULL::bigint, sum(t.{value})::bigint, count(*)::integer, '[]'::jsonb
                FROM audit_new t GROUP BY 1$sql$),
            ('ledger', 'UPDATE', 'OLD TABLE AS audit_old NEW TABLE AS audit_new', 'user_id', 'amount', 'id', $sql$
                SELECT c.u, false, NULL::bigint, NULL::bigint, sum(c.amount)::bigint, count(*)::integer, '[]'::jsonb
                FROM (SELECT t.{user}::text AS u, t.{value}::bigint AS amount FROM audit_new t
                      UNION ALL
                      SELECT t.{user}::text, -t.{value}::bigint FROM audit_old t) c
                GROUP BY 1 HAVING sum(c.amount) <> 0$sql$),
            ('ledger', 'DELETE', 'OLD TABLE AS audit_old', 'user_id', 'amount', 'id', $sql$
                SELECT t.{user}::text, false, NULL::bigint, NULL::bigint, -sum(t.{value})::bigint, count(*)::integer, '[]'::jsonb
                FROM audit_old t GROUP BY 1$sql$),
            -- The recharges whose status changed, from what to what (the
            -- app's spelling).
            ('recharges', 'UPDATE', 'OLD TABLE AS audit_old NEW TABLE AS audit_new', 'user_id', 'status', 'id', $sql$
                SELECT n.{user}::text, false, NULL::bigint, NULL::bigint, 0::bigint, 0,
                       jsonb_agg(jsonb_build_object('recharge_id', n.{key}::text, 'from', o.{value}::text,
                                                    'to', n.{value}::text) ORDER BY n.{key}::text)
                FROM audit_old o JOIN audit_new n ON n.{key} = o.{key}
                WHERE n.{value}::text IS DISTINCT FROM o.{value}::text
                GROUP BY 1$sql$)
        ) AS s (role, op, refs, user_key, value_key, key_key, changes)
    LOOP
        v_name := 'balance_audit_' || v_spec.role || '_' || lower(v_spec.op);
        v_table := format('%I.%I', v_profile #>> ARRAY['roles', v_spec.role, 'schema'],
                          v_profile #>> ARRAY['roles', v_spec.role, 'table']);
        v_changes := replace(replace(replace(v_spec.changes,
            '{user}', credits_ops.profile_column(v_profile, v_spec.role, v_spec.user_key)),
            '{value}', credits_ops.profile_column(v_profile, v_spec.role, v_spec.value_key)),
            '{key}', credits_ops.profile_column(v_profile, v_spec.role, v_spec.key_key));
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION credits_ops.%I()
            RETURNS trigger
            LANGUAGE plpgsql
            SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $body$
            BEGIN
                BEGIN
                    %s;
                EXCEPTION WHEN OTHERS THEN
                    PERFORM credits_ops.balance_audit_failed(format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME),
                                                             SQLSTATE, SQLERRM);
                END;
                RETURN NULL;
            END
            $body$
            $f$, v_name, replace(v_upsert, '{changes}', v_changes));
        EXECUTE format('REVOKE ALL ON FUNCTION credits_ops.%I() FROM PUBLIC', v_name);
        -- The trigger's arguments name what its function reads, so
        -- `credits audit status` can tell a trigger the app has outgrown.
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'credits_audit_' || v_spec.role || '_' || lower(v_spec.op), v_table);
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION credits_ops.%I(%L, %L, %L, %L)',
                       'credits_audit_' || v_spec.role || '_' || lower(v_spec.op), v_spec.op, v_table,
                       v_spec.refs, v_name, v_spec.role,
                       v_profile #>> ARRAY['roles', v_spec.role, 'columns', v_spec.key_key, 'name'],
                       v_profile #>> ARRAY['roles', v_spec.role, 'columns', v_spec.user_key, 'name'],
                       v_profile #>> ARRAY['roles', v_spec.role, 'columns', v_spec.value_key, 'name']);
    END LOOP;
END $$;
