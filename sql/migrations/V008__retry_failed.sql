-- The bulk repair of failed (and, on request, stuck pending) recharges:
-- `credits retry-failed`, and the runbook's retry_failed_payments().
--
-- credits_ops.retry_failed(since, include_pending, stuck_after, attested,
-- operator, reason, command) looks at the recharges created since p_since
-- that have no `recharge` transaction and are `failed`, or (with
-- p_include_pending) `pending` for longer than p_stuck_after. Each one is
-- handed to credits_ops.apply_recharge, the one crediting path, which
-- credits it only with evidence of payment, or when its payment intent is
-- in p_attested (the operator's attestation, audited as "attested by
-- <operator>"). Without evidence it is reported as no_evidence and left as
-- it is.
--
-- Never waits on another session: the candidates are locked with
-- FOR UPDATE SKIP LOCKED, and one whose row someone else holds (the live
-- webhook, another repair) is reported as skipped_locked, not waited for.
-- apply_recharge also locks the user's balance row; each call runs in its
-- own savepoint (the EXCEPTION block), so a balance row held longer than
-- lock_timeout skips that recharge only, reported the same way.
--
-- p_after and p_limit page through the candidates by recharge id, so the
-- CLI commits in batches and never holds many row locks for long (the
-- benchmark measured 50 s of locks for one transaction at 1M recharges);
-- without them it takes every candidate at once.
-- One row per candidate: recharge_id, user_id, payment_intent_id, credits
-- (granted when credited, else the recharge's amount, i.e. at stake),
-- action (credited, no_evidence, forgeable_evidence, already_credited, not_creditable,
-- not_found, skipped_locked) and detail. Running it again changes nothing:
-- a credited recharge has its transaction and is no longer a candidate.
-- search_path is pinned, with public after pg_catalog, as in V007: every
-- name here is schema-qualified, but the app's triggers on the tables
-- written below run under this path and commonly use unqualified names.
CREATE FUNCTION credits_ops.retry_failed(
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
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_operator text := coalesce(p_operator, session_user::text);
    v_row      record;
    v_applied  record;
    v_evidence text;
BEGIN
    FOR v_row IN
        -- One statement, one snapshot: the candidates, and those of them
        -- this transaction could lock. Candidates minus locked = held by
        -- someone else.
        WITH candidate AS MATERIALIZED (
            SELECT r.id, r.user_id, r.payment_intent_id, r.amount, r.status, r.created_at
              FROM credits_ops.app_recharge r
             WHERE r.created_at >= p_since
               AND (r.status = 'failed'
                    OR (p_include_pending AND r.status = 'pending'
                        AND r.created_at < now() - p_stuck_after))
               AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                               WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
               AND (p_after IS NULL OR r.id > p_after)
             ORDER BY r.id
             LIMIT p_limit
        ), locked AS MATERIALIZED (
            SELECT r.id
              FROM credits_ops.app_recharge r
             WHERE r.id IN (SELECT c.id FROM candidate c)
               FOR UPDATE SKIP LOCKED
        )
        SELECT c.*, (l.id IS NOT NULL) AS got_lock
          FROM candidate c
          LEFT JOIN locked l ON l.id = c.id
         ORDER BY c.id
    LOOP
        IF NOT v_row.got_lock THEN
            RETURN QUERY SELECT v_row.id, v_row.user_id, v_row.payment_intent_id, v_row.amount::bigint,
                                'skipped_locked'::text,
                                'the recharge row is locked by another session (the webhook, or another repair); run again'::text;
            CONTINUE;
        END IF;

        BEGIN
            SELECT * INTO v_applied
              FROM credits_ops.apply_recharge(v_row.id, v_operator, p_reason, p_command,
                                              coalesce(v_row.payment_intent_id = ANY (p_attested), false),
                                              p_trust_app_evidence);
        EXCEPTION WHEN lock_not_available THEN
            RETURN QUERY SELECT v_row.id, v_row.user_id, v_row.payment_intent_id, v_row.amount::bigint,
                                'skipped_locked'::text,
                                'the balance row of the user is locked by another session for longer than lock_timeout; run again'::text;
            CONTINUE;
        END;

        IF v_applied.action = 'credited' THEN
            SELECT l.detail ->> 'evidence' INTO v_evidence
              FROM credits_ops.repair_log l
             WHERE l.recharge_id = v_row.id AND l.action = 'credited'
             ORDER BY l.id DESC
             LIMIT 1;
            RETURN QUERY SELECT v_row.id, v_row.user_id, v_row.payment_intent_id, v_applied.credits,
                                v_applied.action,
                                format('was %s; evidence: %s; balance %s -> %s', v_row.status, v_evidence,
                                       v_applied.balance_before, v_applied.balance_after);
        ELSIF v_applied.action = 'no_evidence' THEN
            RETURN QUERY SELECT v_row.id, v_row.user_id, v_row.payment_intent_id, v_row.amount::bigint,
                                v_applied.action,
                                CASE WHEN v_row.payment_intent_id IS NULL
                                     THEN format('%s, no payment intent: nothing to verify in Stripe; left as it is', v_row.status)
                                     ELSE format('%s, no evidence of payment stored: verify in the Stripe dashboard, then rerun with --paid %s',
                                                 v_row.status, v_row.payment_intent_id) END;
        ELSIF v_applied.action = 'forgeable_evidence' THEN
            RETURN QUERY SELECT v_row.id, v_row.user_id, v_row.payment_intent_id, v_row.amount::bigint,
                                v_applied.action,
                                format('%s; the only evidence is %s, which anon or a signed-in user can write: '
                                       'verify %s in Stripe, then rerun with --paid %s (or --trust-app-evidence)',
                                       v_row.status,
                                       (SELECT e.sources FROM credits_ops.evidence_summary(ARRAY[v_row.payment_intent_id]) e),
                                       v_row.payment_intent_id, v_row.payment_intent_id);
        ELSE
            RETURN QUERY SELECT v_row.id, v_row.user_id, v_row.payment_intent_id,
                                coalesce(v_applied.credits, 0::bigint), v_applied.action,
                                format('%s; left as it is', v_row.status);
        END IF;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.retry_failed(timestamptz, boolean, interval, text[], text, text, text, text, integer, boolean) FROM PUBLIC;

-- The runbook's entry point for a DBA in psql, on the same logic as
-- `credits retry-failed` with its defaults (failed recharges of the last 7
-- days, no pending ones, no attestation):
--   SELECT * FROM credits_ops.retry_failed_payments();
CREATE FUNCTION credits_ops.retry_failed_payments()
RETURNS TABLE (recharge_id text, user_id text, payment_intent_id text, credits bigint,
               action text, detail text)
LANGUAGE sql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
    SELECT * FROM credits_ops.retry_failed(now() - interval '7 days', false, interval '1 hour',
                                           '{}'::text[], session_user::text, NULL,
                                           'retry_failed_payments');
$fn$;

REVOKE ALL ON FUNCTION credits_ops.retry_failed_payments() FROM PUBLIC;
