-- Repairs a batch of users (credits_ops.fix_user for each), in the caller's
-- transaction. $1 user ids, $2 operator, $3 reason, $4 command, $5 reverse
-- duplicates.
SELECT u.user_id, f.recharge_id, f.action, f.credits, f.detail
FROM unnest($1::text[]) AS u (user_id)
CROSS JOIN LATERAL credits_ops.fix_user(u.user_id, $2, $3, $4, $5) AS f;
