-- Retries a batch of failed or stuck recharges in the caller's transaction
-- (credits_ops.retry_recharges, V011), skipping rows another session holds.
-- $1 recharge ids, $2 attestations (as in retry_plan.sql), $3 operator, $4 reason,
-- $5 command, $6 trust app evidence.
SELECT user_id, recharge_id, payment_intent_id, action, credits, detail
FROM credits_ops.retry_recharges($1::text[], $2::text::jsonb, $3, $4, $5, $6);
