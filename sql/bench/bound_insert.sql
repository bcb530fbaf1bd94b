-- credits-bench, the physical bound (1 of 2): every missing recharge
-- transaction in one set-based statement (completed recharges of the last
-- 7 days with no transaction), no batching, no locking, no audit.
INSERT INTO public.credit_transaction (user_id, amount, type, related_recharge_id, description)
SELECT cr.user_id, cr.amount, 'recharge', cr.id, 'bench: set-based bound'
FROM public.credit_recharge cr
WHERE cr.status = 'completed'
  AND cr.created_at >= now() - interval '7 days'
  AND NOT EXISTS (SELECT 1 FROM public.credit_transaction ct
                  WHERE ct.related_recharge_id = cr.id);
