-- title: Recharge status outside pending/completed/failed/canceled/refunded (never guessed at)
-- severity: warning
-- fix: none: find which code wrote this status; the tool will not guess what it means
SELECT 'UNKNOWN_STATUS'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('status %L is not one the app profile maps to pending, completed, failed, canceled or refunded', r.app_status) AS detail,
       NULL::text AS fix
FROM credits_ops.recharge_scope r
WHERE r.status = 'unknown'
ORDER BY r.created_at;
