-- The plan of `credits retry-failed` for a page of its candidates ($1, by
-- id: sql/repair/retry_candidates.sql), read-only: what the retry would do
-- to each, by recharge id, in the columns every repair returns. $2
-- attestations (a JSON object: payment intent -> the evidence, or null for
-- the operator's word), $3 operator, $4 trust app evidence. The same
-- decisions as the retry (credits_ops.credit_plan).
SELECT o.user_id, o.recharge_id, o.payment_intent_id, o.action, o.credits, o.detail
FROM credits_ops.credit_plan($1::text[], $2::text::jsonb, $3, $4) p,
     LATERAL credits_ops.retry_outcome(ROW(p.*, NULL, NULL)::credits_ops.credit_row) o
ORDER BY o.recharge_id;
