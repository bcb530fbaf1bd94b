-- Whether the ledger knows this user at all ($1: the id as text).
SELECT EXISTS (SELECT FROM credits_ops.app_recharge WHERE user_id = $1)
    OR EXISTS (SELECT FROM credits_ops.app_transaction WHERE user_id = $1)
    OR EXISTS (SELECT FROM credits_ops.app_balance WHERE user_id = $1) AS known;
