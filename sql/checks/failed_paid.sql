-- title: Failed recharge that Stripe shows as paid, not credited
-- severity: error
-- fix: credits retry-failed
-- Evidence of payment comes from credits_ops.payment_evidence, the one
-- place that decides it (shared with the repairs). Evidence only from an
-- app table that anon or signed-in users can write is marked forgeable: the
-- repairs credit it only on --trust-app-evidence or the operator's --paid.
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
WITH failed AS (
    SELECT r.* FROM recharge_facts r
    WHERE r.status = 'failed' AND r.credits_n = 0
), evidence AS (
    SELECT e.payment_intent_id, e.sources, e.forgeable
    FROM credits_ops.evidence_summary(ARRAY(SELECT payment_intent_id FROM failed
                                            WHERE payment_intent_id IS NOT NULL)) e
)
SELECT 'FAILED_PAID'::text AS check_name,
       'error'::text AS severity,
       f.id AS recharge_id,
       f.user_id,
       f.payment_intent_id,
       f.amount::bigint AS credits,
       CASE WHEN e.forgeable
            THEN 'marked failed, paid-looking only on forgeable evidence: ' || e.sources
                 || ' (anon or a signed-in user can write it): verify in Stripe, or pass --trust-app-evidence'
            ELSE 'marked failed, but paid: ' || e.sources END AS detail,
       'credits retry-failed --since ' || coalesce(nullif(current_setting('credits.since_arg', true), ''), '7d')
           || CASE WHEN e.forgeable THEN ' --paid ' || f.payment_intent_id ELSE '' END AS fix
FROM failed f
JOIN evidence e ON e.payment_intent_id = f.payment_intent_id
ORDER BY f.created_at;
