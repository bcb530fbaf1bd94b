-- The recharges paid by this payment intent, with their users.
SELECT r.id AS recharge_id, r.user_id FROM credits_ops.app_recharge r WHERE r.payment_intent_id = $1;
