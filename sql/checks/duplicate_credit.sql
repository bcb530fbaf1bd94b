-- title: More than one recharge transaction for one recharge: credited twice
-- fix: credits fix-user <user_id> --reverse-duplicates
SELECT 'DUPLICATE_CREDIT'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       (t.credited - r.amount)::bigint AS credits,
       format('%s recharge transactions granting %s credits for a recharge of %s', t.n, t.credited, r.amount) AS detail,
       'credits fix-user ' || r.user_id || ' --reverse-duplicates' AS fix
FROM credits_ops.recharge_scope r
JOIN LATERAL (SELECT count(*) AS n, sum(ct.amount) AS credited
              FROM public.credit_transaction ct
              WHERE ct.related_recharge_id = r.id AND ct.type = 'recharge') t ON t.n > 1
ORDER BY r.created_at;
