-- Repairs one user (see credits_ops.fix_user in V007): what it did, a row
-- each. $1 user id, $2 operator, $3 reason, $4 command, $5 reverse duplicates.
SELECT recharge_id, action, credits, detail
FROM credits_ops.fix_user($1, $2, $3, $4, $5);
