-- The one crediting path: credits_ops.apply_recharge(recharge_id, ...).
-- `credits fix-user` and the other repairs credit through it, and the
-- webhook handler should too (README, "Prevention"): then a recharge is
-- credited at most once, whoever gets there first.
--
-- In one transaction (the caller's) it
--   1. locks the recharge row (FOR UPDATE): concurrent callers for the same
--      recharge queue here, and the second sees the first one's credit;
--   2. decides: a completed recharge is credited as it is; a pending or
--      failed one only with evidence of payment (credits_ops.payment_evidence)
--      or the operator's attestation (p_attested); refunded, canceled and
--      unknown statuses never;
--   3. locks the user's balance row (creating it at 0 when missing), inserts
--      the recharge transaction unless one exists, and adds the credits to
--      the balance only if that insert happened and the balance did not
--      already move (an app may maintain balances with a trigger);
--   4. marks the recharge completed and writes the audit row.
-- search_path is pinned, with public after pg_catalog: every name here is
-- schema-qualified, but the app's own triggers on these tables run under
-- this path and commonly use unqualified names.
-- It never updates or deletes a credit_transaction (the ledger is
-- append-only). Returns what it did: credited, already_credited,
-- no_evidence, forgeable_evidence (the only evidence is an app record that
-- anon or a signed-in user could have written, and p_trust_app_evidence is
-- off), not_creditable or not_found.
-- Ids are text whatever the app's type (the adapter compares them in the
-- column's own type).
-- Appends one row to the ledger through the adapter (V002), filling the
-- columns the app keeps as the app would: the running balance after the
-- row, a description and metadata saying credits wrote it, an id where the
-- column has no default. Returns the row's id as text, or NULL when a unique
-- index of the app refused it (ON CONFLICT DO NOTHING, no target).
-- p_type is the tool's type (recharge, adjustment): the app's value for it
-- is written, and an app without one cannot take the row.
CREATE FUNCTION credits_ops.append_ledger(
    p_user_id text, p_amount bigint, p_type text, p_recharge_id text,
    p_balance_after bigint, p_command text, p_reason text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_app_type text;
    v_id       text;
BEGIN
    SELECT p.profile -> 'types' ->> p_type INTO v_app_type FROM credits_ops.app_profile p;
    IF v_app_type IS NULL THEN
        RAISE EXCEPTION 'this app has no transaction type for %', p_type
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('set types.%s in credits.toml, then run credits install', p_type);
    END IF;
    EXECUTE credits_ops.adapter_sql('ledger_append')
       INTO v_id
      USING p_user_id, p_amount, v_app_type, p_recharge_id, p_balance_after,
            format('credits %s%s', p_command, coalesce(': ' || p_reason, '')),
            jsonb_build_object('written_by', 'credits', 'command', p_command, 'reason', p_reason);
    RETURN v_id;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.append_ledger(text, bigint, text, text, bigint, text, text) FROM PUBLIC;

-- Locks the user's balance row, creating it at 0 when missing, and returns
-- the balance.
CREATE FUNCTION credits_ops.lock_balance(p_user_id text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_balance bigint;
BEGIN
    EXECUTE credits_ops.adapter_sql('balance_lock') INTO v_balance USING p_user_id;
    IF NOT FOUND OR v_balance IS NULL THEN
        EXECUTE credits_ops.adapter_sql('balance_create') USING p_user_id;
        EXECUTE credits_ops.adapter_sql('balance_lock') INTO v_balance USING p_user_id;
    END IF;
    RETURN v_balance;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.lock_balance(text) FROM PUBLIC;

CREATE FUNCTION credits_ops.apply_recharge(
    p_recharge_id text,
    p_operator text DEFAULT NULL,
    p_reason text DEFAULT NULL,
    p_command text DEFAULT 'apply_recharge',
    p_attested boolean DEFAULT false,
    p_trust_app_evidence boolean DEFAULT false)
RETURNS TABLE (action text, transaction_id text, credits bigint,
               balance_before bigint, balance_after bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_recharge   record;
    v_evidence   record;
    v_because    text;
    v_tx_id      text;
    v_before     bigint;
    v_moved      bigint;
    v_after      bigint;
    v_operator   text := coalesce(p_operator, session_user::text);
BEGIN
    EXECUTE credits_ops.adapter_sql('recharge_lock') USING p_recharge_id;
    SELECT r.id, r.user_id, r.amount, r.status, r.app_status, r.payment_intent_id
      INTO v_recharge
      FROM credits_ops.app_recharge r
     WHERE r.id = p_recharge_id;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;

    SELECT t.id INTO v_tx_id
      FROM credits_ops.app_transaction t
     WHERE t.related_recharge_id = v_recharge.id AND t.type = 'recharge'
     ORDER BY t.created_at
     LIMIT 1;
    IF v_tx_id IS NOT NULL THEN
        RETURN QUERY SELECT 'already_credited'::text, v_tx_id, 0::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;

    IF v_recharge.status NOT IN ('completed', 'pending', 'failed') THEN
        RETURN QUERY SELECT 'not_creditable'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF v_recharge.status = 'completed' THEN
        v_because := 'recharge completed by the app';
    ELSIF p_attested THEN
        v_because := 'attested by ' || v_operator;
    ELSE
        SELECT * INTO v_evidence
          FROM credits_ops.evidence_summary(ARRAY[v_recharge.payment_intent_id]) e;
        IF v_evidence.forgeable AND NOT p_trust_app_evidence THEN
            RETURN QUERY SELECT 'forgeable_evidence'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;
        v_because := v_evidence.sources
                     || CASE WHEN v_evidence.forgeable THEN ' (writable by API roles; trusted by ' || v_operator || ')' ELSE '' END;
    END IF;
    IF v_because IS NULL THEN
        RETURN QUERY SELECT 'no_evidence'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;

    -- The balance row is locked before the ledger moves, so a balance
    -- correction running meanwhile sees all of this credit or none of it.
    v_before := credits_ops.lock_balance(v_recharge.user_id);

    -- ON CONFLICT without a target: a no-op where the app has a unique index
    -- on recharge transactions and another writer won; the row lock above
    -- already serialises every caller of this function.
    v_tx_id := credits_ops.append_ledger(v_recharge.user_id, v_recharge.amount, 'recharge', v_recharge.id,
                                         v_before + v_recharge.amount, p_command, p_reason);
    IF v_tx_id IS NULL THEN
        RETURN QUERY SELECT 'already_credited'::text, NULL::text, 0::bigint, v_before, v_before;
        RETURN;
    END IF;

    SELECT b.balance INTO v_moved FROM credits_ops.app_balance b WHERE b.user_id = v_recharge.user_id;
    IF v_moved = v_before THEN
        EXECUTE credits_ops.adapter_sql('balance_add') INTO v_after
          USING v_recharge.user_id, v_recharge.amount, v_recharge.amount;
    ELSE
        v_after := v_moved;  -- a trigger of the app already added it
    END IF;

    EXECUTE credits_ops.adapter_sql('recharge_complete') USING v_recharge.id;

    INSERT INTO credits_ops.repair_log
        (operator, reason, command, recharge_id, user_id, action, credits_delta,
         balance_before, balance_after, detail)
    VALUES (v_operator, p_reason, p_command, v_recharge.id, v_recharge.user_id, 'credited',
            v_recharge.amount, v_before, v_after,
            jsonb_build_object('transaction_id', v_tx_id, 'evidence', v_because,
                               'status_before', v_recharge.app_status,
                               'payment_intent_id', v_recharge.payment_intent_id));

    RETURN QUERY SELECT 'credited'::text, v_tx_id, v_recharge.amount::bigint, v_before, v_after;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.apply_recharge(text, text, text, text, boolean, boolean) FROM PUBLIC;

-- The webhook's role may credit, and nothing else here.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA credits_ops TO service_role;
        GRANT EXECUTE ON FUNCTION credits_ops.apply_recharge(text, text, text, text, boolean, boolean) TO service_role;
    END IF;
END
$$;

-- The repair of one user, at any age (`credits fix-user`, and the runbook's
-- manual_fix_user_credits): credit every completed recharge without its
-- transaction (through apply_recharge), mark credited pending/failed
-- recharges completed, report duplicates and amount mismatches (or, with
-- p_reverse_duplicates, append one compensating `adjustment` per duplicated
-- recharge), then set the cached balance to the ledger sum. Every change is
-- audited; running it again changes nothing. One row per thing done or seen.
CREATE FUNCTION credits_ops.fix_user(
    p_user_id text,
    p_operator text DEFAULT NULL,
    p_reason text DEFAULT NULL,
    p_command text DEFAULT 'fix_user',
    p_reverse_duplicates boolean DEFAULT false)
RETURNS TABLE (recharge_id text, action text, credits bigint, detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_operator text := coalesce(p_operator, session_user::text);
    v_row      record;
    v_applied  record;
    v_before   bigint;
    v_sum      bigint;
    v_excess   bigint;
BEGIN
    -- The lock order of every repair: the user's recharge rows (by id),
    -- then the balance row, as apply_recharge takes them for one recharge.
    -- Taking them all first means a webhook crediting another recharge of
    -- this user meanwhile waits or goes first, and never deadlocks with us.
    EXECUTE credits_ops.adapter_sql('recharge_lock_user') USING p_user_id;

    FOR v_row IN
        SELECT r.id FROM credits_ops.app_recharge r
         WHERE r.user_id = p_user_id AND r.status = 'completed'
           AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                           WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
         ORDER BY r.created_at
    LOOP
        SELECT * INTO v_applied FROM credits_ops.apply_recharge(v_row.id, v_operator, p_reason, p_command);
        RETURN QUERY SELECT v_row.id, v_applied.action, v_applied.credits,
                            format('balance %s -> %s', v_applied.balance_before, v_applied.balance_after);
    END LOOP;

    FOR v_row IN
        SELECT r.id, r.amount FROM credits_ops.app_recharge r
         WHERE r.user_id = p_user_id AND r.status IN ('pending', 'failed')
           AND EXISTS (SELECT FROM credits_ops.app_transaction t
                       WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
         ORDER BY r.id
    LOOP
        EXECUTE credits_ops.adapter_sql('recharge_complete') USING v_row.id;
        INSERT INTO credits_ops.repair_log (operator, reason, command, recharge_id, user_id, action, credits_delta)
        VALUES (v_operator, p_reason, p_command, v_row.id, p_user_id, 'marked_completed', 0);
        RETURN QUERY SELECT v_row.id, 'marked_completed'::text, 0::bigint,
                            'credited already; status set to completed'::text;
    END LOOP;

    -- Credits granted for a recharge beyond its amount, net of earlier
    -- reversals (adjustments linked to it), so reversing twice is a no-op.
    FOR v_row IN
        SELECT r.id, r.amount,
               sum(t.amount) FILTER (WHERE t.type = 'recharge') AS credited,
               count(*) FILTER (WHERE t.type = 'recharge') AS n,
               coalesce(sum(t.amount) FILTER (WHERE t.type = 'adjustment'), 0) AS adjusted
          FROM credits_ops.app_recharge r
          JOIN credits_ops.app_transaction t ON t.related_recharge_id = r.id
         WHERE r.user_id = p_user_id
         GROUP BY r.id, r.amount
        HAVING count(*) FILTER (WHERE t.type = 'recharge') > 1
    LOOP
        v_excess := v_row.credited + v_row.adjusted - v_row.amount;
        IF v_excess <= 0 THEN
            CONTINUE;
        ELSIF p_reverse_duplicates THEN
            v_before := credits_ops.lock_balance(p_user_id);
            PERFORM credits_ops.append_ledger(p_user_id, -v_excess, 'adjustment', v_row.id,
                                              (SELECT coalesce(sum(t.amount), 0)::bigint - v_excess
                                                 FROM credits_ops.app_transaction t WHERE t.user_id = p_user_id),
                                              p_command, p_reason);
            EXECUTE credits_ops.adapter_sql('balance_add') USING p_user_id, -v_excess, -v_excess;
            INSERT INTO credits_ops.repair_log (operator, reason, command, recharge_id, user_id, action, credits_delta,
                                                balance_before, balance_after, detail)
            VALUES (v_operator, p_reason, p_command, v_row.id, p_user_id, 'duplicate_reversed', -v_excess,
                    v_before, v_before - v_excess, jsonb_build_object('recharge_transactions', v_row.n));
            RETURN QUERY SELECT v_row.id, 'duplicate_reversed'::text, -v_excess,
                                format('%s recharge transactions; %s credits reversed by an adjustment', v_row.n, v_excess);
        ELSE
            RETURN QUERY SELECT v_row.id, 'duplicate_reported'::text, v_excess,
                                format('%s recharge transactions grant %s credits too many; rerun with --reverse-duplicates', v_row.n, v_excess);
        END IF;
    END LOOP;

    FOR v_row IN
        SELECT r.id, r.amount, t.amount AS granted
          FROM credits_ops.app_recharge r
          JOIN credits_ops.app_transaction t ON t.related_recharge_id = r.id AND t.type = 'recharge'
         WHERE r.user_id = p_user_id AND t.amount <> r.amount
    LOOP
        RETURN QUERY SELECT v_row.id, 'amount_mismatch_reported'::text, (v_row.amount - v_row.granted)::bigint,
                            format('recharge of %s, transaction granted %s: review by hand', v_row.amount, v_row.granted);
    END LOOP;

    -- Last, the cached balance: the sum of the ledger, read under the
    -- balance row's lock so a concurrent apply_recharge is wholly in or out.
    IF EXISTS (SELECT FROM credits_ops.app_transaction t WHERE t.user_id = p_user_id)
       OR EXISTS (SELECT FROM credits_ops.app_balance b WHERE b.user_id = p_user_id) THEN
        v_before := credits_ops.lock_balance(p_user_id);
        SELECT coalesce(sum(t.amount), 0) INTO v_sum FROM credits_ops.app_transaction t WHERE t.user_id = p_user_id;
        IF v_sum IS DISTINCT FROM v_before THEN
            EXECUTE credits_ops.adapter_sql('balance_set') USING p_user_id, v_sum;
            INSERT INTO credits_ops.repair_log (operator, reason, command, user_id, action, credits_delta, balance_before, balance_after)
            VALUES (v_operator, p_reason, p_command, p_user_id, 'balance_corrected', v_sum - v_before, v_before, v_sum);
            RETURN QUERY SELECT NULL::text, 'balance_corrected'::text, v_sum - v_before,
                                format('balance %s -> %s (the ledger sum)', v_before, v_sum);
        END IF;
    END IF;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.fix_user(text, text, text, text, boolean) FROM PUBLIC;

-- The runbook's entry point for a DBA in psql, on the same logic as
-- `credits fix-user` (no reversal of duplicates: that needs a decision):
--   SELECT * FROM credits_ops.manual_fix_user_credits('<user id>');
CREATE FUNCTION credits_ops.manual_fix_user_credits(p_user_id text)
RETURNS TABLE (recharge_id text, action text, credits bigint, detail text)
LANGUAGE sql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT * FROM credits_ops.fix_user(p_user_id, session_user::text, NULL,
                                       'manual_fix_user_credits', false);
$fn$;

REVOKE ALL ON FUNCTION credits_ops.manual_fix_user_credits(text) FROM PUBLIC;
