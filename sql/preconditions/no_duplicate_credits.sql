-- What stops the unique index of V009 (one `recharge` transaction per
-- recharge) from being built: recharges that already have several (even
-- when a reversing adjustment exists: the ledger is append-only, so those
-- rows stay), and an INVALID index of that name left by an interrupted
-- build. One row per obstacle; none means the index can be built.
SELECT 'recharge ' || t.related_recharge_id || ' has ' || count(*) || ' recharge transactions (credits debug: DUPLICATE_CREDIT)' AS obstacle
FROM public.credit_transaction t
WHERE t.type = 'recharge' AND t.related_recharge_id IS NOT NULL
GROUP BY t.related_recharge_id
HAVING count(*) > 1
UNION ALL
SELECT 'index public.credits_one_recharge_credit is INVALID (an interrupted build): '
       || 'DROP INDEX CONCURRENTLY public.credits_one_recharge_credit; then run credits install again'
FROM pg_index i
WHERE i.indexrelid = to_regclass('public.credits_one_recharge_credit') AND NOT i.indisvalid
ORDER BY 1;
