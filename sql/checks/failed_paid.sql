-- title: Failed recharge that Stripe shows as paid, not credited
-- severity: error
-- fix: credits retry-failed
-- Evidence of payment comes from credits_ops.payment_evidence, the one
-- place that decides it (shared with the repairs). Evidence only from an
-- app table that anon or signed-in users can write is marked forgeable: the
-- repairs credit it only on --trust-app-evidence or the operator's --paid.
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each, and evidence_facts (V025): their evidence, by payment
-- intent. In psql: SET search_path = credits_ops, public;
-- MATERIALIZED: the status filters first, then the evidence of the rows
-- they keep. Inlined, the planner put the evidence test first, on every
-- recharge fact (at 1M recharges 30-45 ms for this check, 15 after).
WITH failed AS MATERIALIZED (
    SELECT r.*, (SELECT ev.by_payment_intent FROM evidence_facts ev) -> r.payment_intent_id AS evidence
    FROM recharge_facts r
    WHERE r.status = 'failed' AND r.credits_n = 0
)
SELECT 'FAILED_PAID'::text AS check_name,
       'error'::text AS severity,
       f.id AS recharge_id,
       f.user_id,
       f.payment_intent_id,
       f.amount::bigint AS credits,
       CASE WHEN (f.evidence ->> 'forgeable')::boolean
            THEN 'marked failed, paid-looking only on forgeable evidence: ' || (f.evidence ->> 'sources')
                 || ' (anon or a signed-in user can write it): verify in Stripe, or pass --trust-app-evidence'
            ELSE 'marked failed, but paid: ' || (f.evidence ->> 'sources') END AS detail,
       'credits retry-failed --since ' || coalesce(nullif(current_setting('credits.since_arg', true), ''), '7d')
           || CASE WHEN (f.evidence ->> 'forgeable')::boolean THEN ' --paid ' || f.payment_intent_id ELSE '' END AS fix
FROM failed f
WHERE f.evidence IS NOT NULL
ORDER BY f.created_at;
