-- Probe: mark the recharges of user $1 or $2 completed (always rolled back).
UPDATE public.credit_recharge SET status = 'completed'
WHERE user_id IN ($1, $2);
