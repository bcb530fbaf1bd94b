-- Appended to either facts head (sql/debug/facts.sql, sql/kept/facts.sql):
-- the evidence of payment of the failed and pending recharges without a
-- credit, looked up once for the four checks that read it, as V021's view
-- credits_ops.recharge_evidence gives it in psql.
, recharge_evidence AS MATERIALIZED (
    SELECT e.payment_intent_id, e.sources, e.forgeable
    FROM credits_ops.evidence_summary(ARRAY(
             SELECT DISTINCT r.payment_intent_id
             FROM recharge_facts r
             WHERE r.status IN ('failed', 'pending') AND r.credits_n = 0
               AND r.payment_intent_id IS NOT NULL)) e)
