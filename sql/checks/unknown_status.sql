-- title: Recharge status outside pending/completed/failed/canceled/refunded (never guessed at)
-- severity: warning
-- fix: none: find which code wrote this status; the tool will not guess what it means
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
SELECT 'UNKNOWN_STATUS'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       format('status %L is not one the app profile maps to pending, completed, failed, canceled or refunded', r.app_status) AS detail,
       NULL::text AS fix
FROM recharge_facts r
WHERE r.status = 'unknown'
ORDER BY r.created_at;
