-- Repairs a batch of users in the caller's transaction
-- (credits_ops.fix_users, V026): what it did, a row each, in the columns
-- every repair returns. $1 user ids, $2 operator, $3 reason, $4 command,
-- $5 reverse duplicates, $6 skip (and report) users whose rows another
-- session holds instead of waiting for them, $7 what Stripe said of the
-- recharges to credit (JSON, or NULL when it was not asked), $8 the only
-- recharges of those users to look at (bulk-fix's plan), or NULL for every
-- one of them.
SELECT user_id, recharge_id, payment_intent_id, action, credits, detail
FROM credits_ops.fix_users($1::text[], $2, $3, $4, $5, $6, $7::text::jsonb, $8::text[]);
