-- Probe: mint credits by inserting a ledger row for user $1 (always rolled back).
INSERT INTO public.credit_transaction (user_id, amount, type)
VALUES ($1, 1000000, 'adjustment');
