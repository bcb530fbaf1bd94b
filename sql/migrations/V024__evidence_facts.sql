-- The evidence of payment (V003) of every failed or pending recharge in
-- scope that the ledger never credited, summarised per payment intent:
-- the facts four checks need (FAILED_PAID, FAILED_UNVERIFIED, STUCK_PENDING,
-- STUCK_PENDING_PAID). Each of them looked its recharges' evidence up on its
-- own: the same payment intents probed twice in the webhook events and
-- stripe.payment_intents (about 500 ms of health's statement at 1M
-- recharges). The heads of debug's and health's statement
-- (sql/debug/facts.sql, sql/kept/facts.sql) define a CTE of this name over
-- their own recharge facts, computed once; in psql a check reads this view:
--   SET search_path = credits_ops, public;  \i sql/checks/failed_paid.sql
-- A payment intent with no evidence has no row here.
CREATE VIEW credits_ops.evidence_facts AS
SELECT e.payment_intent_id, e.sources, e.forgeable
FROM credits_ops.evidence_summary(ARRAY(
         SELECT r.payment_intent_id FROM credits_ops.recharge_facts r
         WHERE r.status IN ('failed', 'pending') AND r.credits_n = 0
           AND r.payment_intent_id IS NOT NULL)) e;

REVOKE ALL ON credits_ops.evidence_facts FROM PUBLIC;
