-- title: More than one recharge transaction for one recharge: credited twice
-- severity: error
-- fix: credits fix-user <user_id> --reverse-duplicates
-- Aggregates the ledger once (set-based) rather than counting per recharge.
WITH credited AS (
    SELECT t.related_recharge_id, count(*) AS n, sum(t.amount) AS credited
    FROM public.credit_transaction t
    WHERE t.type = 'recharge' AND t.related_recharge_id IS NOT NULL
    GROUP BY t.related_recharge_id
    HAVING count(*) > 1
)
SELECT 'DUPLICATE_CREDIT'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       (c.credited - r.amount)::bigint AS credits,
       format('%s recharge transactions granting %s credits for a recharge of %s', c.n, c.credited, r.amount) AS detail,
       'credits fix-user ' || r.user_id || ' --reverse-duplicates' AS fix
FROM credited c
JOIN credits_ops.recharge_scope r ON r.id = c.related_recharge_id
ORDER BY r.created_at;
