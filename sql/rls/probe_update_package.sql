-- Probe: change what packages grant (always rolled back).
UPDATE public.credit_package SET credits = credits + 1000000;
