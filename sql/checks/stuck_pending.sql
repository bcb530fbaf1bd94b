-- title: Pending for longer than --stuck-after with no evidence of payment (abandoned, or the webhook is lost)
-- severity: warning
-- fix: credits retry-failed --include-pending --paid <payment_intent_id> (only after checking the Stripe dashboard)
WITH stuck AS (
    SELECT r.* FROM credits_ops.recharge_scope r
    WHERE r.status = 'pending'
      AND r.created_at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval
      AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                      WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
)
SELECT 'STUCK_PENDING'::text AS check_name,
       'warning'::text AS severity,
       s.id AS recharge_id,
       s.user_id,
       s.payment_intent_id,
       s.amount::bigint AS credits,
       format('pending since %s; no success event or succeeded payment intent is stored', date_trunc('second', s.created_at)) AS detail,
       CASE WHEN s.payment_intent_id IS NULL THEN NULL
            ELSE 'credits retry-failed --include-pending --paid ' || s.payment_intent_id END AS fix
FROM stuck s
WHERE s.payment_intent_id IS NULL
   OR s.payment_intent_id NOT IN (
        SELECT e.payment_intent_id
        FROM credits_ops.payment_evidence(ARRAY(SELECT payment_intent_id FROM stuck
                                                WHERE payment_intent_id IS NOT NULL)) e)
ORDER BY s.created_at;
