-- Whether the ledger knows this user at all ($1: uuid).
SELECT EXISTS (SELECT FROM public.credit_recharge WHERE user_id = $1)
    OR EXISTS (SELECT FROM public.credit_transaction WHERE user_id = $1)
    OR EXISTS (SELECT FROM public.user_credit_balance WHERE user_id = $1) AS known;
