-- credits health: the age of the oldest stuck pending recharge, in whole
-- seconds (0 when none is stuck). "Stuck" as in sql/checks/stuck_pending.sql
-- and stuck_pending_paid.sql: in the window (credits_ops.recharge_scope),
-- pending longer than the setting credits.stuck_after (default 1 hour), and
-- not credited. Scope settings come from sql/debug/scope.sql; in psql:
--   SET credits.since = '2026-11-17'; SET credits.stuck_after = '1 hour';
-- Uses the (status, created_at) index of V004: a short range scan.
SELECT coalesce(floor(extract(epoch FROM now() - min(r.created_at))), 0)::bigint
           AS oldest_stuck_pending_seconds
FROM credits_ops.recharge_scope r
WHERE r.status = 'pending'
  AND r.created_at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval
  AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                  WHERE t.related_recharge_id = r.id AND t.type = 'recharge');
