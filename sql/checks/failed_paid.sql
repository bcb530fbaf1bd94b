-- title: Failed recharge that Stripe shows as paid, not credited
-- severity: error
-- fix: credits retry-failed
-- Evidence of payment comes from credits_ops.payment_evidence, the one
-- place that decides it (shared with the repairs).
WITH failed AS (
    SELECT r.* FROM credits_ops.recharge_scope r
    WHERE r.status = 'failed'
      AND NOT EXISTS (SELECT FROM public.credit_transaction t
                      WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
), evidence AS (
    SELECT e.payment_intent_id, string_agg(DISTINCT e.source, ', ') AS sources
    FROM credits_ops.payment_evidence(ARRAY(SELECT payment_intent_id FROM failed
                                            WHERE payment_intent_id IS NOT NULL)) e
    GROUP BY e.payment_intent_id
)
SELECT 'FAILED_PAID'::text AS check_name,
       'error'::text AS severity,
       f.id AS recharge_id,
       f.user_id,
       f.payment_intent_id,
       f.amount::bigint AS credits,
       'marked failed, but paid: ' || e.sources AS detail,
       'credits retry-failed --since ' || coalesce(nullif(current_setting('credits.since_arg', true), ''), '7d') AS fix
FROM failed f
JOIN evidence e ON e.payment_intent_id = f.payment_intent_id
ORDER BY f.created_at;
