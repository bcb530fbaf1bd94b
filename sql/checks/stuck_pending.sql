-- title: Pending for longer than --stuck-after with no evidence of payment (abandoned, or the webhook is lost)
-- severity: warning
-- fix: credits retry-failed --include-pending --paid <payment_intent_id> (only after checking the Stripe dashboard)
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each, and evidence_facts (V025): their evidence, by payment
-- intent. In psql: SET search_path = credits_ops, public;
-- MATERIALIZED: the status filters first, then the evidence of the rows
-- they keep. Inlined, the planner put the evidence test first, on every
-- recharge fact (at 1M recharges 30-45 ms for this check, 15 after).
WITH stuck AS MATERIALIZED (
    SELECT r.* FROM recharge_facts r
    WHERE r.status = 'pending' AND r.credits_n = 0
      AND r.created_at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval
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
   OR NOT ((SELECT ev.by_payment_intent FROM evidence_facts ev) ? s.payment_intent_id)
ORDER BY s.created_at;
