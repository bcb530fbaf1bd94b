-- title: Recharge status outside pending/completed/failed/canceled/refunded (never guessed at)
-- severity: warning
-- fix: none: find which code wrote this status; the tool will not guess what it means
SELECT 'UNKNOWN_STATUS'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('status %L is not one of pending, completed, failed, canceled, refunded', r.status) AS detail,
       NULL::text AS fix
FROM credits_ops.recharge_scope r
WHERE r.status NOT IN ('pending', 'completed', 'failed', 'canceled', 'refunded')
ORDER BY r.created_at;
