-- title: Failed recharge with no evidence of payment: verify in Stripe before crediting
-- severity: warning
-- fix: credits retry-failed --paid <payment_intent_id> (only after checking the Stripe dashboard)
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each, and evidence_facts (V025): their evidence, by payment
-- intent. In psql: SET search_path = credits_ops, public;
-- MATERIALIZED: the status filters first, then the evidence of the rows
-- they keep. Inlined, the planner put the evidence test first, on every
-- recharge fact (at 1M recharges 30-45 ms for this check, 15 after).
WITH failed AS MATERIALIZED (
    SELECT r.* FROM recharge_facts r
    WHERE r.status = 'failed' AND r.credits_n = 0
)
SELECT 'FAILED_UNVERIFIED'::text AS check_name,
       'warning'::text AS severity,
       f.id AS recharge_id,
       f.user_id,
       f.payment_intent_id,
       f.amount::bigint AS credits,
       CASE WHEN f.payment_intent_id IS NULL
            THEN 'marked failed before a payment intent existed'
            ELSE 'marked failed; no success event or succeeded payment intent is stored' END AS detail,
       CASE WHEN f.payment_intent_id IS NULL THEN NULL
            ELSE 'credits retry-failed --paid ' || f.payment_intent_id END AS fix
FROM failed f
WHERE f.payment_intent_id IS NULL
   OR NOT ((SELECT ev.by_payment_intent FROM evidence_facts ev) ? f.payment_intent_id)
ORDER BY f.created_at;
