SELECT recharge_id, user_id, payment_intent_id, credits, action, detail
FROM credits_ops.retry_failed($1, $2, $3::text::interval, $4, $5, $6, $7, $8, $9, $10);
