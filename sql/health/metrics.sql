-- credits health: the age of the oldest stuck pending recharge, in whole
-- seconds (0 when none is stuck). "Stuck" as in sql/checks/stuck_pending.sql
-- and stuck_pending_paid.sql: in the window, pending longer than the setting
-- credits.stuck_after (default 1 hour), and not credited. It reads the
-- facts as the checks do, after the same head (sql/kept/facts.sql, or
-- sql/debug/facts.sql with --rescan); a pending recharge is never plainly
-- credited, so every one is there. In psql, against V013's view:
--   SET search_path = credits_ops, public; SET credits.stuck_after = '1 hour';
SELECT coalesce(floor(extract(epoch FROM now() - min(r.created_at))), 0)::bigint
           AS oldest_stuck_pending_seconds
FROM recharge_facts r
WHERE r.status = 'pending'
  AND r.created_at < now() - (SELECT coalesce(nullif(current_setting('credits.stuck_after', true), ''),
                                              '1 hour')::interval)
  AND r.credits_n = 0;
