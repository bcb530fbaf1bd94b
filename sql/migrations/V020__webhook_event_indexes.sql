-- credits:no-transaction
-- credits:generated
-- Two indexes on the app's webhook events table, built CONCURRENTLY as in
-- V004, so `credits health` (every minute, from monitoring) reads the
-- events it counts instead of the whole table (1.1M events at a million
-- recharges: 0.9 s for the webhook metrics, 0.65 s for the check
-- WEBHOOK_EVENT_FAILED, growing with the table):
--   * credits_webhook_event_unsettled_idx: the failed and the received
--     events by time, partial, so it holds only the events a handler has
--     not settled (a handful in a healthy app) and the webhook's common
--     path, an event marked processed, leaves it alone;
--   * credits_webhook_event_received_idx: every event by time, for the
--     newest success event (read backwards, it stops at the first).
-- Each key is written as the adapter view (V002) reads the column: status
-- as text, a timestamp without time zone as UTC, so the planner matches
-- the view's expressions to the index. Nothing is built for an app whose
-- events have no status column (the first), or whose time column is not a
-- timestamp (the second). A DBA can see what would be built with:
--   psql -f sql/migrations/V020__webhook_event_indexes.sql
WITH p AS (
    SELECT profile -> 'roles' -> 'webhook_events' AS events, profile
    FROM credits_ops.app_profile
    WHERE profile -> 'roles' ? 'webhook_events'
), keys AS (
    SELECT format('%I.%I', p.events ->> 'schema', p.events ->> 'table') AS tbl,
           p.events ->> 'schema' AS schema_name,
           format('(%I::text)', p.events #>> '{columns,status,name}') AS status_key,
           CASE WHEN p.events #>> '{columns,received_at,type}' = 'timestamp with time zone'
                THEN quote_ident(p.events #>> '{columns,received_at,name}')
                WHEN p.events #>> '{columns,received_at,type}' = 'timestamp without time zone'
                THEN format('(%I AT TIME ZONE ''UTC'')', p.events #>> '{columns,received_at,name}')
           END AS time_key
    FROM p
), wanted (name, tbl, schema_name, key_sql, predicate) AS (
    SELECT 'credits_webhook_event_unsettled_idx', k.tbl, k.schema_name,
           k.status_key || ', ' || k.time_key,
           k.status_key || ' IN (''failed'', ''received'')'
    FROM keys k, p
    WHERE p.events #> '{columns,status}' IS NOT NULL AND k.time_key IS NOT NULL
    UNION ALL
    SELECT 'credits_webhook_event_received_idx', k.tbl, k.schema_name, k.time_key, NULL
    FROM keys k
    WHERE k.time_key IS NOT NULL
)
SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', w.schema_name, w.name) AS ddl
FROM wanted w
JOIN pg_index i ON i.indexrelid = to_regclass(format('%I.%I', w.schema_name, w.name))
WHERE NOT i.indisvalid
UNION ALL
SELECT format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %s (%s)%s /* table %s, %s */',
              w.name, w.tbl, w.key_sql, coalesce(' WHERE ' || w.predicate, ''),
              pg_size_pretty(pg_table_size(w.tbl::regclass)),
              (SELECT CASE WHEN c.reltuples < 0 THEN 'rows not estimated yet (never analyzed)'
                           ELSE format('about %s rows', c.reltuples::bigint) END
               FROM pg_class c WHERE c.oid = w.tbl::regclass))
FROM wanted w;
