-- title: More than one recharge transaction for one recharge: credited twice
-- severity: error
-- fix: credits fix-user <user_id> --reverse-duplicates
-- Aggregates the ledger once (set-based) rather than counting per recharge.
-- A duplicate already reversed by an `adjustment` linked to the recharge
-- (credits fix-user --reverse-duplicates) is no longer a finding.
WITH credited AS (
    SELECT t.related_recharge_id,
           count(*) FILTER (WHERE t.type = 'recharge') AS n,
           sum(t.amount) FILTER (WHERE t.type = 'recharge') AS credited,
           coalesce(sum(t.amount) FILTER (WHERE t.type = 'adjustment'), 0) AS adjusted
    FROM credits_ops.app_transaction t
    WHERE t.type IN ('recharge', 'adjustment') AND t.related_recharge_id IS NOT NULL
    GROUP BY t.related_recharge_id
    HAVING count(*) FILTER (WHERE t.type = 'recharge') > 1
)
SELECT 'DUPLICATE_CREDIT'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       (c.credited + c.adjusted - r.amount)::bigint AS credits,
       format('%s recharge transactions granting %s credits for a recharge of %s', c.n, c.credited, r.amount) AS detail,
       'credits fix-user ' || r.user_id || ' --reverse-duplicates' AS fix
FROM credited c
JOIN credits_ops.recharge_scope r ON r.id = c.related_recharge_id
WHERE c.credited + c.adjusted > r.amount
ORDER BY r.created_at;
