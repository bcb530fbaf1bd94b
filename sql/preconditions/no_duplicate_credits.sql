-- What stops the unique index of V009 (one `recharge` transaction per
-- recharge) from being built: recharges that already have several (even
-- when a reversing adjustment exists: the ledger is append-only, so those
-- rows stay), and an INVALID index of that name left by an interrupted
-- build. One row per obstacle; none means the index can be built.
SELECT 'recharge ' || t.related_recharge_id || ' has ' || count(*) || ' recharge transactions (credits debug: DUPLICATE_CREDIT)' AS obstacle
FROM credits_ops.app_transaction t
WHERE t.type = 'recharge' AND t.related_recharge_id IS NOT NULL
GROUP BY t.related_recharge_id
HAVING count(*) > 1
UNION ALL
SELECT format('index %s is INVALID (an interrupted build): DROP INDEX CONCURRENTLY %s; then run credits install again',
              i.indexrelid::regclass, i.indexrelid::regclass)
FROM pg_index i
JOIN credits_ops.app_profile p
  ON i.indexrelid = to_regclass(format('%I.credits_one_recharge_credit', p.profile #>> '{roles,ledger,schema}'))
WHERE NOT i.indisvalid
ORDER BY 1;
