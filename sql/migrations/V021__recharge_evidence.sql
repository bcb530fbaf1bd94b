-- The evidence of payment the diagnosis needs, looked up once per run: for
-- the failed and the pending recharges in scope that have no credit, one
-- row per payment intent with any evidence (credits_ops.evidence_summary,
-- V003). FAILED_PAID, FAILED_UNVERIFIED, STUCK_PENDING and
-- STUCK_PENDING_PAID read it; each used to look up the evidence of its
-- own recharges, so every payment intent was looked up twice (0.5 s of a
-- debug at 1M recharges, most of it index probes into the webhook events).
-- credits debug and health read the same rows from a CTE of this name
-- (sql/debug/evidence.sql); in psql the checks read this view:
--   SET search_path = credits_ops, public;  \i sql/checks/failed_paid.sql
CREATE VIEW credits_ops.recharge_evidence AS
SELECT e.payment_intent_id, e.sources, e.forgeable
FROM credits_ops.evidence_summary(ARRAY(
         SELECT DISTINCT r.payment_intent_id
         FROM credits_ops.recharge_facts r
         WHERE r.status IN ('failed', 'pending') AND r.credits_n = 0
           AND r.payment_intent_id IS NOT NULL)) e;

REVOKE ALL ON credits_ops.recharge_evidence FROM PUBLIC;
