-- Probe: raise the balance of user $1 or $2 (always rolled back). An UPDATE
-- that RLS blocks matches 0 rows without an error: the row count decides.
UPDATE public.user_credit_balance SET balance = balance + 1000000
WHERE user_id IN ($1, $2);
