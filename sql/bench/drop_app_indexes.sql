-- credits-bench: the app schema as real apps ship it, with nothing but
-- primary keys and unique constraints (the runbook's own app has no
-- user_id index): drops the reference schema's user_id indexes.
DROP INDEX IF EXISTS public.credit_recharge_user_id_idx;
DROP INDEX IF EXISTS public.credit_transaction_user_id_idx;
