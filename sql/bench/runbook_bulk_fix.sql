-- credits-bench: the runbook's bulk repair, stopped after $1 seconds.
SELECT users_total, users_fixed, transactions_inserted
FROM public.bench_runbook_bulk_fix($1);
