-- credits:no-transaction
-- credits:generated
-- The indexes the diagnosis and the repairs need on the app's tables, built
-- CONCURRENTLY so the live webhook keeps writing meanwhile. Real apps often
-- have nothing but primary keys, and every check would otherwise read the
-- whole ledger once per recharge or per user.
-- This file is a query: it returns one CREATE INDEX statement per index
-- that is missing, for this app's table and column names (from
-- credits_ops.app_profile), and `credits install` runs each outside a
-- transaction. The adapter views compare ids as text, so an id column of
-- another type is indexed on its text form. An index whose name exists but
-- is INVALID (an interrupted build) is dropped and built again.
-- Each statement ends with a comment giving the table's size and estimated
-- rows, so `credits install --dry-run` says what each build will cost.
-- A DBA can see what would be built with:
--   psql -f sql/migrations/V004__indexes.sql
WITH p AS (
    SELECT profile -> 'roles' AS roles, profile FROM credits_ops.app_profile
), wanted (name, role, keys, predicate) AS (
    -- Not partial: a join clause cannot prove an index predicate, and the
    -- repairs join recharges to the ledger (a partial index made each
    -- user's repair scan the whole ledger).
    SELECT 'credits_transaction_recharge_idx', 'ledger', ARRAY['recharge_id'], NULL::text
    FROM p
    UNION ALL SELECT 'credits_transaction_user_idx', 'ledger', ARRAY['user_id'], NULL FROM p
    UNION ALL SELECT 'credits_recharge_id_idx', 'recharges', ARRAY['id'], NULL FROM p
    UNION ALL SELECT 'credits_recharge_user_idx', 'recharges', ARRAY['user_id'], NULL FROM p
    UNION ALL SELECT 'credits_recharge_created_idx', 'recharges', ARRAY['created_at'], NULL FROM p
    UNION ALL SELECT 'credits_recharge_payment_intent_idx', 'recharges', ARRAY['payment_intent_id'], NULL FROM p
    UNION ALL SELECT 'credits_balance_user_idx', 'balances', ARRAY['user_id'], NULL FROM p
    UNION ALL SELECT 'credits_webhook_event_payment_intent_idx', 'webhook_events',
                     ARRAY['payment_intent_id'], NULL
    FROM p WHERE p.roles ? 'webhook_events'
), target AS (
    SELECT w.name,
           format('%I.%I', p.roles #>> ARRAY[w.role, 'schema'], p.roles #>> ARRAY[w.role, 'table']) AS tbl,
           p.roles #>> ARRAY[w.role, 'schema'] AS schema_name,
           (SELECT string_agg(
                       CASE WHEN p.roles #>> ARRAY[w.role, 'columns', k, 'type'] IN ('text', 'timestamp with time zone')
                                 OR k <> ALL (ARRAY['id', 'user_id', 'recharge_id'])
                            THEN quote_ident(p.roles #>> ARRAY[w.role, 'columns', k, 'name'])
                            ELSE format('(%I::text)', p.roles #>> ARRAY[w.role, 'columns', k, 'name']) END,
                       ', ')
            FROM unnest(w.keys) AS k) AS key_sql,
           p.roles #>> ARRAY[w.role, 'columns', w.keys[1], 'name'] AS first_column,
           w.predicate
    FROM wanted w, p
)
SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', t.schema_name, t.name) AS ddl
FROM target t
JOIN pg_index i ON i.indexrelid = to_regclass(format('%I.%I', t.schema_name, t.name))
WHERE NOT i.indisvalid
UNION ALL
SELECT format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %s (%s)%s /* table %s, %s */',
              t.name, t.tbl, t.key_sql, coalesce(' WHERE ' || t.predicate, ''),
              pg_size_pretty(pg_table_size(t.tbl::regclass)),
              (SELECT CASE WHEN c.reltuples < 0 THEN 'rows not estimated yet (never analyzed)'
                           ELSE format('about %s rows', c.reltuples::bigint) END
               FROM pg_class c WHERE c.oid = t.tbl::regclass))
FROM target t
-- Skip what the app already has: a valid index led by the same plain column.
WHERE NOT EXISTS (
    SELECT FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = t.tbl::regclass AND i.indisvalid AND i.indexprs IS NULL
      AND a.attname = t.first_column AND t.key_sql = quote_ident(t.first_column)
      AND to_regclass(format('%I.%I', t.schema_name, t.name)) IS NULL
      AND (t.predicate IS NULL OR i.indpred IS NULL));
