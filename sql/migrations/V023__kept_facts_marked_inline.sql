-- The kept recharge facts (V019) read the facts of marked recharges with
-- the query's own conditions applied first. V019 passed the marked ids to
-- credits_ops.facts_of_recharges as ARRAY(SELECT ...): PostgreSQL never
-- inlines a set-returning function whose argument is a subquery, so the
-- facts of every marked recharge were computed (its ledger rows summed)
-- before a condition such as retry-failed's "failed or pending" could drop
-- it. Given the ids through a lateral aggregate instead, the function is
-- inlined and the conditions reach the recharges' scan. At 1M recharges,
-- with the 52,000 recharge marks a bulk-fix leaves: retry-failed's
-- candidates 530-680 ms -> 370 ms, the same rows. Same columns, same rows.
CREATE OR REPLACE VIEW credits_ops.kept_recharge_facts AS
WITH changed AS MATERIALIZED (
    SELECT DISTINCT c.key FROM credits_ops.kept_fact_change c WHERE c.kind = 'r'
), facts AS (
    SELECT f.* FROM credits_ops.kept_recharge_fact f
    WHERE NOT EXISTS (SELECT FROM changed c WHERE c.key = f.id)
    UNION ALL
    SELECT f.*
    FROM (SELECT array_agg(c.key) AS keys FROM changed c) AS k
    CROSS JOIN LATERAL credits_ops.facts_of_recharges(k.keys) f
    WHERE NOT credits_ops.plainly_credited(f.status, f.credits_n, f.smallest_credit, f.amount)
)
SELECT f.* FROM facts f
WHERE f.created_at >= (SELECT coalesce(nullif(current_setting('credits.since', true), '')::timestamptz,
                                       now() - interval '7 days'))
  AND CASE WHEN (SELECT nullif(current_setting('credits.user_id', true), '')) IS NULL THEN true
           ELSE f.user_id = (SELECT nullif(current_setting('credits.user_id', true), '')) END
  AND CASE WHEN (SELECT nullif(current_setting('credits.payment_intent', true), '')) IS NULL THEN true
           ELSE f.payment_intent_id = (SELECT nullif(current_setting('credits.payment_intent', true), '')) END;
