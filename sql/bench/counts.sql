-- credits-bench: the size of the data, and of the ledger before/after a repair.
SELECT (SELECT count(*) FROM public.credit_recharge)    AS recharges,
       (SELECT count(*) FROM public.credit_transaction) AS transactions;
