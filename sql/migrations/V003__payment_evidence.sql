-- Evidence that Stripe collected the money, decided in this one place for
-- the diagnosis and the repairs (credits-domain.md, "Evidence of payment"),
-- from the adapter view credits_ops.app_evidence (V002):
--   1. a stored webhook event of a success type for the payment intent:
--      payment_intent.succeeded, checkout.session.async_payment_succeeded, or
--      checkout.session.completed whose payment_status is 'paid' (an 'unpaid'
--      completed checkout is NOT a payment). The event's own processing
--      status does not matter: a failed or skipped delivery still proves
--      that Stripe reported the payment;
--   2. a row of stripe.payment_intents (Stripe Sync Engine / wrapper) with
--      status 'succeeded';
--   3. the app's own records of a success it failed to process (for
--      example a webhook_failures row), marked forgeable while anon or a
--      signed-in user can insert into their table.
-- Takes the candidate payment intents as an array so callers stay set-based.
CREATE FUNCTION credits_ops.payment_evidence(p_payment_intents text[])
RETURNS TABLE (payment_intent_id text, source text, forgeable boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT DISTINCT e.payment_intent_id, e.source, e.forgeable
    FROM credits_ops.app_evidence e
    WHERE e.payment_intent_id = ANY (p_payment_intents);
$fn$;

REVOKE ALL ON FUNCTION credits_ops.payment_evidence(text[]) FROM PUBLIC;

-- The evidence of each payment intent, summarised: the sources, and whether
-- all of it is forgeable (then it is not enough without the operator's
-- --trust-app-evidence, or Stripe's word).
CREATE FUNCTION credits_ops.evidence_summary(p_payment_intents text[])
RETURNS TABLE (payment_intent_id text, sources text, forgeable boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT e.payment_intent_id, string_agg(DISTINCT e.source, ', '), bool_and(e.forgeable)
    FROM credits_ops.payment_evidence(p_payment_intents) e
    GROUP BY e.payment_intent_id;
$fn$;

REVOKE ALL ON FUNCTION credits_ops.evidence_summary(text[]) FROM PUBLIC;

-- The recharges a diagnosis looks at: those created since credits.since
-- (default 7 days), of credits.user_id and credits.payment_intent when set.
-- Settings rather than parameters, so every check file takes the same
-- scope and a DBA can run a check in psql after `SET credits.since = ...`.
-- A plain view, so the planner pushes these filters into each check.
-- CASE rather than "setting IS NULL OR column = setting": the planner
-- estimates that OR as matching almost no row and then probes the ledger
-- once per recharge; it estimates a CASE at one half, and plans hash joins.
CREATE VIEW credits_ops.recharge_scope AS
SELECT r.*
FROM credits_ops.app_recharge r
WHERE r.created_at >= coalesce(nullif(current_setting('credits.since', true), '')::timestamptz,
                               now() - interval '7 days')
  AND CASE WHEN nullif(current_setting('credits.user_id', true), '') IS NULL THEN true
           ELSE r.user_id = nullif(current_setting('credits.user_id', true), '') END
  AND CASE WHEN nullif(current_setting('credits.payment_intent', true), '') IS NULL THEN true
           ELSE r.payment_intent_id = nullif(current_setting('credits.payment_intent', true), '') END;

REVOKE ALL ON credits_ops.recharge_scope FROM PUBLIC;
