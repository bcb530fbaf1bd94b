-- Who the user is: the email from Supabase's credits_ops.app_user when that table
-- exists (looked up by the caller), here only the ledger's view of them.
-- $1: user id. Balance row (NULL when missing) and the sum of the ledger.
SELECT (SELECT b.balance FROM credits_ops.app_balance b WHERE b.user_id = $1) AS balance,
       (SELECT coalesce(sum(t.amount), 0)::bigint FROM credits_ops.app_transaction t WHERE t.user_id = $1) AS ledger_sum,
       (SELECT count(*) FROM credits_ops.app_transaction t WHERE t.user_id = $1) AS transactions;
