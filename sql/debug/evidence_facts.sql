-- Appended to the facts' head (sql/kept/facts.sql or sql/debug/facts.sql)
-- in the checks' statement only: the evidence of payment of every failed or
-- pending recharge not credited, looked up once for the four checks that
-- read it (V025; its view of the same name stands in for it in psql). Not
-- part of the heads themselves: a CTE named by another counts as named
-- twice, and the statements that read recharge_facts once (health's stuck
-- age, bulk-fix's plan) would lose the kept rows' filtered scan.
, evidence_facts AS (
    SELECT credits_ops.evidence_by_payment_intent(ARRAY(
               SELECT r.payment_intent_id FROM recharge_facts r
               WHERE r.status IN ('failed', 'pending') AND r.credits_n = 0
                 AND r.payment_intent_id IS NOT NULL)) AS by_payment_intent)
