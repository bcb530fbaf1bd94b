-- title: Pending for longer than --stuck-after although Stripe shows it paid
-- severity: error
-- fix: credits retry-failed --include-pending
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each, and evidence_facts (V025): their evidence, by payment
-- intent. In psql: SET search_path = credits_ops, public;
-- MATERIALIZED: the status filters first, then the evidence of the rows
-- they keep. Inlined, the planner put the evidence test first, on every
-- recharge fact (at 1M recharges 30-45 ms for this check, 15 after).
WITH stuck AS MATERIALIZED (
    SELECT r.*, (SELECT ev.by_payment_intent FROM evidence_facts ev) -> r.payment_intent_id AS evidence
    FROM recharge_facts r
    WHERE r.status = 'pending' AND r.credits_n = 0
      AND r.created_at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval
)
SELECT 'STUCK_PENDING_PAID'::text AS check_name,
       'error'::text AS severity,
       s.id AS recharge_id,
       s.user_id,
       s.payment_intent_id,
       s.amount::bigint AS credits,
       CASE WHEN (s.evidence ->> 'forgeable')::boolean
            THEN format('pending since %s, paid-looking only on forgeable evidence: %s (anon or a signed-in user can write it): verify in Stripe, or pass --trust-app-evidence',
                        date_trunc('second', s.created_at), s.evidence ->> 'sources')
            ELSE format('pending since %s, but paid: %s', date_trunc('second', s.created_at), s.evidence ->> 'sources') END AS detail,
       'credits retry-failed --include-pending --since ' || coalesce(nullif(current_setting('credits.since_arg', true), ''), '7d')
           || CASE WHEN (s.evidence ->> 'forgeable')::boolean THEN ' --paid ' || s.payment_intent_id ELSE '' END AS fix
FROM stuck s
WHERE s.evidence IS NOT NULL
ORDER BY s.created_at;
