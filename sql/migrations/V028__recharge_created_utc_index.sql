-- credits:no-transaction
-- credits:generated
-- The recharges by creation time, for an app whose time column has no time
-- zone (Prisma's timestamp(3)). The adapter view (V002) reads such a column
-- as UTC, (created_at AT TIME ZONE 'UTC'), and V004 indexed the plain
-- column, which that expression cannot use: every window of recharges
-- (--since) read the whole table there. Built CONCURRENTLY on the view's
-- expression, as credits_recharge_created_utc_idx; V004's index of the
-- plain column, which no read of the tool uses there, is dropped once it
-- is built. Nothing is done for a timestamptz column (V004's index serves
-- it). A DBA can see what would be run with:
--   psql -f sql/migrations/V028__recharge_created_utc_index.sql
WITH wanted AS (
    SELECT format('%I.%I', r ->> 'schema', r ->> 'table') AS tbl,
           r ->> 'schema' AS schema_name,
           format('(%I AT TIME ZONE ''UTC'')', r #>> '{columns,created_at,name}') AS key_sql
    FROM (SELECT profile -> 'roles' -> 'recharges' AS r FROM credits_ops.app_profile) p
    WHERE r #>> '{columns,created_at,type}' ~ '^timestamp(\(\d+\))? without time zone$'
), ddl (step, statement) AS (
    SELECT 1, format('DROP INDEX CONCURRENTLY IF EXISTS %I.credits_recharge_created_utc_idx', w.schema_name)
    FROM wanted w
    JOIN pg_index i ON i.indexrelid = to_regclass(format('%I.credits_recharge_created_utc_idx', w.schema_name))
    WHERE NOT i.indisvalid
    UNION ALL
    SELECT 2, format('CREATE INDEX CONCURRENTLY IF NOT EXISTS credits_recharge_created_utc_idx ON %s (%s) /* table %s, %s */',
                     w.tbl, w.key_sql,
                     pg_size_pretty(pg_table_size(w.tbl::regclass)),
                     (SELECT CASE WHEN c.reltuples < 0 THEN 'rows not estimated yet (never analyzed)'
                                  ELSE format('about %s rows', c.reltuples::bigint) END
                      FROM pg_class c WHERE c.oid = w.tbl::regclass))
    FROM wanted w
    UNION ALL
    SELECT 3, format('DROP INDEX CONCURRENTLY IF EXISTS %I.credits_recharge_created_idx', w.schema_name)
    FROM wanted w
    WHERE to_regclass(format('%I.credits_recharge_created_idx', w.schema_name)) IS NOT NULL
)
SELECT statement AS ddl FROM ddl ORDER BY step;
