-- credits:no-transaction
-- credits:generated
-- The recharges by creation time, for an app whose time column has no time
-- zone (Prisma's timestamp(3)). The adapter view (V002) reads such a column
-- as UTC, (created_at AT TIME ZONE 'UTC'), and V004 indexed the plain
-- column, which that expression cannot use: every window of recharges
-- (--since) read the whole table there. Built CONCURRENTLY on the view's
-- expression under a temporary name (credits_recharge_created_utc_idx),
-- then V004's index of the plain column is dropped and the new one takes
-- its name: V004, run again when the adapter is rebuilt, then finds its
-- index there and builds nothing, and this file builds nothing where that
-- name already holds an index of the expression. Nothing is done for a
-- timestamptz column (V004's index serves it). A DBA can see what would be
-- run with:
--   psql -f sql/migrations/V028__recharge_created_utc_index.sql
WITH wanted AS (
    SELECT format('%I.%I', r ->> 'schema', r ->> 'table') AS tbl,
           r ->> 'schema' AS schema_name,
           format('(%I AT TIME ZONE ''UTC'')', r #>> '{columns,created_at,name}') AS key_sql
    FROM (SELECT profile -> 'roles' -> 'recharges' AS r FROM credits_ops.app_profile) p
    -- As V002 tells the types apart.
    WHERE r #>> '{columns,created_at,type}' LIKE 'timestamp%without time zone'
      AND NOT EXISTS (
          SELECT FROM pg_index i
          WHERE i.indexrelid = to_regclass(format('%I.credits_recharge_created_idx', r ->> 'schema'))
            AND i.indisvalid AND i.indexprs IS NOT NULL)
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
    UNION ALL
    SELECT 4, format('ALTER INDEX %I.credits_recharge_created_utc_idx RENAME TO credits_recharge_created_idx',
                     w.schema_name)
    FROM wanted w
)
SELECT statement AS ddl FROM ddl ORDER BY step;
