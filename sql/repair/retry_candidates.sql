-- The recharges `credits retry-failed` looks at, by id, read after a facts
-- head as bulk-fix's affected users are (sql/kept/facts.sql:
-- `kept::Facts::over`), in a snapshot whose scope settings hold the window
-- (credits.since) and credits.stuck_after: the failed ones, and with $1
-- the stuck pending ones, that the ledger holds no credit for. A recharge
-- without its credit is never plainly credited, so the kept facts hold
-- them all: the same rows as credits_ops.retry_candidates (V011), which
-- reads the recharges table (sql/repair/retry_candidates_tables.sql,
-- used when the kept facts cannot be). In psql, against V013's view:
--   SET search_path = credits_ops, public; SET credits.since = '2026-11-24';
SELECT r.id AS recharge_id
FROM recharge_facts r
WHERE r.credits_n = 0
  AND (r.status = 'failed'
       OR ($1 AND r.status = 'pending'
           AND r.created_at < now() - (SELECT coalesce(nullif(current_setting('credits.stuck_after', true), ''),
                                                       '1 hour')::interval)))
ORDER BY r.id;
