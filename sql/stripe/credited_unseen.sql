-- credits stripe reconcile: recharges created since $1 that the ledger
-- credited (a `recharge` transaction) for a payment intent Stripe did not
-- list: CREDITED_NOT_PAID.
-- $1 timestamptz: the window's start; $2 text[]: every payment intent
-- Stripe listed (or the export held); $3 text[]: the recharges already
-- matched to a payment (also by metadata). Hash anti-joins, not `<> ALL`,
-- so that tens of thousands of ids cost one pass each.
SELECT r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount AS credits,
       r.created_at
FROM credits_ops.app_recharge r
LEFT JOIN unnest($2::text[]) AS seen(payment_intent_id) ON seen.payment_intent_id = r.payment_intent_id
LEFT JOIN unnest($3::text[]) AS matched(recharge_id) ON matched.recharge_id = r.id
WHERE r.created_at >= $1::timestamptz
  AND r.payment_intent_id IS NOT NULL
  AND seen.payment_intent_id IS NULL
  AND matched.recharge_id IS NULL
  AND EXISTS (SELECT FROM credits_ops.app_transaction t
              WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
ORDER BY r.created_at;
