-- credits:no-transaction
-- credits:generated
-- The webhook event indexes again (V020), for two reasons:
--   * V020's index of the unsettled events (failed or received) is made
--     covering: it also holds the payment intent, and the raw status and
--     time columns where its keys are casts of them (an enum status, a
--     timestamp without time zone). `credits health` then counts the check
--     WEBHOOK_EVENT_FAILED from the index alone, without fetching each
--     event's row: the events are spread over the whole table, one page
--     read each (at 1M recharges 34,000 failed events, their fetches 325 ms
--     of the check's 450; 10 ms without them). Built under a temporary
--     name (credits_webhook_event_unsettled_cover_idx), then V020's is
--     dropped and the new one takes its name: V020, run again when the
--     adapter is rebuilt, then finds its index there and builds nothing,
--     and this file builds nothing where the index already covers.
--   * V020 built nothing for a time column with a precision, such as
--     Prisma's timestamp(3): its type was compared whole. Here any
--     timestamp counts, and V020's index of every event by time is built
--     where it is missing.
-- Built CONCURRENTLY as in V004 and V020, keyed as the adapter view (V002)
-- reads the columns, its types told apart as V002 does (LIKE). Nothing is
-- built for an app whose events have no status or payment intent column
-- (the first) or whose time column is not a timestamp. A DBA can see what
-- would be run with:
--   psql -f sql/migrations/V027__webhook_event_indexes_covering.sql
WITH p AS (
    SELECT profile -> 'roles' -> 'webhook_events' AS events
    FROM credits_ops.app_profile
    WHERE profile -> 'roles' ? 'webhook_events'
), cols AS (
    SELECT format('%I.%I', p.events ->> 'schema', p.events ->> 'table') AS tbl,
           p.events ->> 'schema' AS schema_name,
           p.events #>> '{columns,status,name}' AS status_col,
           p.events #>> '{columns,status,type}' AS status_type,
           p.events #>> '{columns,received_at,name}' AS time_col,
           p.events #>> '{columns,received_at,type}' AS time_type,
           p.events #>> '{columns,payment_intent_id,name}' AS pi_col
    FROM p
), keyed AS (
    SELECT c.*,
           CASE WHEN c.time_type LIKE 'timestamp%without time zone'
                THEN format('(%I AT TIME ZONE ''UTC'')', c.time_col)
                WHEN c.time_type LIKE 'timestamp%with time zone' THEN quote_ident(c.time_col)
           END AS time_key,
           c.time_type LIKE 'timestamp%without time zone' AS time_is_cast
    FROM cols c
), wanted AS (
    -- The keys as V020 writes them (the adapter view's expressions).
    SELECT k.tbl, k.schema_name,
           format('(%I::text), %s', k.status_col, k.time_key) AS key_sql,
           format('(%I::text) IN (''failed'', ''received'')', k.status_col) AS predicate,
           -- A key that is a cast does not give the scan its column.
           concat_ws(', ', quote_ident(k.pi_col),
                     CASE WHEN k.status_type <> 'text' THEN quote_ident(k.status_col) END,
                     CASE WHEN k.time_is_cast THEN quote_ident(k.time_col) END)
               AS include_sql
    FROM keyed k
    WHERE k.status_col IS NOT NULL AND k.pi_col IS NOT NULL AND k.time_key IS NOT NULL
      -- Not where V020's name already holds a covering index (this file ran).
      AND NOT EXISTS (
          SELECT FROM pg_index i
          WHERE i.indexrelid = to_regclass(format('%I.credits_webhook_event_unsettled_idx', k.schema_name))
            AND i.indisvalid AND i.indnatts > i.indnkeyatts)
), ddl (step, statement) AS (
    SELECT 1, format('DROP INDEX CONCURRENTLY IF EXISTS %I.credits_webhook_event_unsettled_cover_idx',
                     w.schema_name)
    FROM wanted w
    JOIN pg_index i ON i.indexrelid = to_regclass(format('%I.credits_webhook_event_unsettled_cover_idx', w.schema_name))
    WHERE NOT i.indisvalid
    UNION ALL
    SELECT 2, format('CREATE INDEX CONCURRENTLY IF NOT EXISTS credits_webhook_event_unsettled_cover_idx ON %s (%s) INCLUDE (%s) WHERE %s /* table %s, %s */',
                     w.tbl, w.key_sql, w.include_sql, w.predicate,
                     pg_size_pretty(pg_table_size(w.tbl::regclass)),
                     (SELECT CASE WHEN c.reltuples < 0 THEN 'rows not estimated yet (never analyzed)'
                                  ELSE format('about %s rows', c.reltuples::bigint) END
                      FROM pg_class c WHERE c.oid = w.tbl::regclass))
    FROM wanted w
    UNION ALL
    SELECT 3, format('DROP INDEX CONCURRENTLY IF EXISTS %I.credits_webhook_event_unsettled_idx', w.schema_name)
    FROM wanted w
    WHERE to_regclass(format('%I.credits_webhook_event_unsettled_idx', w.schema_name)) IS NOT NULL
    UNION ALL
    SELECT 4, format('ALTER INDEX %I.credits_webhook_event_unsettled_cover_idx RENAME TO credits_webhook_event_unsettled_idx',
                     w.schema_name)
    FROM wanted w
    UNION ALL
    -- V020's other index, where its comparison of the type missed it.
    SELECT 5, format('CREATE INDEX CONCURRENTLY IF NOT EXISTS credits_webhook_event_received_idx ON %s (%s) /* table %s */',
                     k.tbl, k.time_key, pg_size_pretty(pg_table_size(k.tbl::regclass)))
    FROM keyed k
    WHERE k.time_key IS NOT NULL
      AND to_regclass(format('%I.credits_webhook_event_received_idx', k.schema_name)) IS NULL
)
SELECT statement AS ddl FROM ddl ORDER BY step;
