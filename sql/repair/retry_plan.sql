-- The plan of `credits retry-failed`, read-only: every candidate (failed
-- since $1, and with $2 pending for longer than $3, without its
-- transaction) with what the retry would do, by recharge id, in the columns
-- every repair returns. $4 attestations (a JSON object: payment intent ->
-- the evidence, or null for the operator's word), $5 operator, $6 trust app
-- evidence. The same decisions as the retry (credits_ops.credit_plan).
SELECT o.user_id, o.recharge_id, o.payment_intent_id, o.action, o.credits, o.detail
FROM credits_ops.credit_plan(
         ARRAY(SELECT c.recharge_id FROM credits_ops.retry_candidates($1, $2, $3::text::interval) c),
         $4::text::jsonb, $5, $6) p,
     LATERAL credits_ops.retry_outcome(ROW(p.*, NULL, NULL)::credits_ops.credit_row) o
ORDER BY o.recharge_id;
