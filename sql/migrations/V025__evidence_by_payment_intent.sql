-- One lookup of the evidence of payment (V003) for the four checks that
-- need it: failed_paid and failed_unverified (the failed recharges not
-- credited), stuck_pending_paid and stuck_pending (the pending ones). Each
-- looked its recharges' payment intents up again, two of them through
-- payment_evidence and two through evidence_summary: four index walks of
-- the webhook events and of stripe.payment_intents, 400 ms of health's
-- 670 at 1M recharges (7,000 failed and 6,000 pending not credited).
--
-- One value, not rows: a map from payment intent to its evidence's sources
-- and whether it is all forgeable. A check reads it with -> and ?, so no
-- check joins it, and the planner has no join to get wrong. V024 (withdrawn
-- before it landed; its number is not reused) shared the lookup as rows:
-- reading the tables (debug --rescan), the planner estimated one stuck
-- recharge and joined 10,000 to the shared rows by a nested loop (90
-- million comparisons, 17 s at 1M).
--
-- The heads of debug and health (sql/kept/facts.sql, sql/debug/facts.sql)
-- compute it once per statement, over their own recharge_facts; this view
-- stands in for it in psql, over V013's view:
--   SET search_path = credits_ops, public;  \i sql/checks/failed_paid.sql
CREATE FUNCTION credits_ops.evidence_by_payment_intent(p_payment_intents text[])
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(jsonb_object_agg(e.payment_intent_id,
                                     jsonb_build_object('sources', e.sources, 'forgeable', e.forgeable)),
                    '{}')
    FROM credits_ops.evidence_summary(p_payment_intents) e;
$fn$;

REVOKE ALL ON FUNCTION credits_ops.evidence_by_payment_intent(text[]) FROM PUBLIC;

-- The recharges not credited that evidence could settle: failed or pending.
CREATE VIEW credits_ops.evidence_facts AS
SELECT credits_ops.evidence_by_payment_intent(ARRAY(
           SELECT r.payment_intent_id FROM credits_ops.recharge_facts r
           WHERE r.status IN ('failed', 'pending') AND r.credits_n = 0
             AND r.payment_intent_id IS NOT NULL)) AS by_payment_intent;

REVOKE ALL ON credits_ops.evidence_facts FROM PUBLIC;
