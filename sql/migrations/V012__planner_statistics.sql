-- credits:no-transaction
-- credits:generated
-- What the planner needs to know about the adapter's expressions, so the
-- diagnosis and the repairs get sane plans on any app:
--   * statistics on the status and type mappings exactly as the adapter
--     views (V002) write them: without them the planner cannot see through
--     the CASE and guessed 417 completed recharges where there were 65,000,
--     then probed the ledger 195,000 times instead of one hash join
--     (measured at 200,000 recharges);
--   * an ANALYZE of each app table with an expression index of V004:
--     PostgreSQL gathers such an index's statistics only when its table is
--     analyzed, and until autovacuum gets to it the planner guessed a batch
--     of 200 users at 126,000 recharges and read the whole table per batch.
-- Statistics objects live in credits_ops; CREATE STATISTICS and ANALYZE
-- take no lock that blocks the app's reads or writes. Run again (dropped
-- and made anew) whenever the adapter is rebuilt for a changed app.
-- This file is a query returning the statements, in order.
WITH p AS (
    SELECT profile FROM credits_ops.app_profile
), mapped (name, role, key, cases, otherwise) AS (
    SELECT 'recharge_status_stats', 'recharges', 'status',
           (SELECT string_agg(format('WHEN %L THEN %L', s.value, s.key), ' ')
              FROM jsonb_each_text(p.profile -> 'statuses') s WHERE s.value IS NOT NULL),
           'unknown'
    FROM p
    UNION ALL
    SELECT 'transaction_type_stats', 'ledger', 'type',
           (SELECT string_agg(format('WHEN %L THEN %L', s.value, s.key), ' ')
              FROM jsonb_each_text(p.profile -> 'types') s WHERE s.value IS NOT NULL),
           'other'
    FROM p
), statements (step, ddl) AS (
    SELECT 1, format('DROP STATISTICS IF EXISTS credits_ops.%I', m.name) FROM mapped m
    UNION ALL
    SELECT 2, format('CREATE STATISTICS credits_ops.%I ON ((CASE %I::text %s ELSE %L END)::text) FROM %I.%I',
                     m.name, p.profile #>> ARRAY['roles', m.role, 'columns', m.key, 'name'],
                     m.cases, m.otherwise,
                     p.profile #>> ARRAY['roles', m.role, 'schema'], p.profile #>> ARRAY['roles', m.role, 'table'])
    FROM mapped m, p
    WHERE m.cases IS NOT NULL
    UNION ALL
    SELECT 3, format('ANALYZE %I.%I /* %s */', p.profile #>> ARRAY['roles', r.role, 'schema'],
                     p.profile #>> ARRAY['roles', r.role, 'table'],
                     pg_size_pretty(pg_table_size(format('%I.%I', p.profile #>> ARRAY['roles', r.role, 'schema'],
                                                          p.profile #>> ARRAY['roles', r.role, 'table'])::regclass)))
    FROM p, (VALUES ('recharges'), ('ledger'), ('balances')) AS r (role)
)
SELECT s.ddl FROM statements s ORDER BY s.step;
