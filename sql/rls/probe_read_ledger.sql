-- Probe: the ledger rows the current role sees, of user $1 and of others.
SELECT (SELECT count(*) FROM public.credit_recharge WHERE user_id = $1)
     + (SELECT count(*) FROM public.credit_transaction WHERE user_id = $1)
     + (SELECT count(*) FROM public.user_credit_balance WHERE user_id = $1) AS own,
       (SELECT count(*) FROM public.credit_recharge WHERE user_id IS DISTINCT FROM $1)
     + (SELECT count(*) FROM public.credit_transaction WHERE user_id IS DISTINCT FROM $1)
     + (SELECT count(*) FROM public.user_credit_balance WHERE user_id IS DISTINCT FROM $1) AS others;
