-- credits-bench: one webhook delivery, as the app's webhook makes it.
-- $1 recharge id (text).
SELECT action FROM credits_ops.apply_recharge($1::text, 'webhook', NULL, 'webhook');
