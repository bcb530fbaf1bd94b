-- credits-bench: the runbook's view summarised by category (what an on-call
-- engineer runs first to size the incident).
SELECT status_check, count(*) AS recharges
FROM public.payment_credit_status
GROUP BY status_check
ORDER BY status_check;
