-- credits-bench, the physical bound (2 of 2): every balance set to its
-- ledger in one statement (an upsert, so a missing balance row is created
-- too); rows already right are not rewritten.
INSERT INTO public.user_credit_balance AS b (user_id, balance, updated_at)
SELECT t.user_id, sum(t.amount), now()
FROM public.credit_transaction t
GROUP BY t.user_id
ON CONFLICT (user_id) DO UPDATE
    SET balance = EXCLUDED.balance, updated_at = EXCLUDED.updated_at
    WHERE b.balance IS DISTINCT FROM EXCLUDED.balance;
