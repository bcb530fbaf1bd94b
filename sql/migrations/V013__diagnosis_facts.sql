-- What the diagnosis knows about each recharge and each user in scope,
-- computed in one pass over each table: credits debug and health read
-- these once per run (materialized, sql/debug/facts.sql) and every check
-- filters them, instead of each check joining the recharges to the ledger
-- again (16 passes; measured 5 s against the runbook's 0.5 s view at
-- 200,000 recharges).
-- In psql, a check reads the views themselves:
--   SET search_path = credits_ops, public;  \i sql/checks/missing_transaction.sql

-- One row per recharge in credits_ops.recharge_scope, with what the ledger
-- holds for it: the number and sum of its `recharge` transactions, its
-- adjustments, the net of everything linked to it, and the smallest and
-- largest credit (an amount mismatch shows there).
CREATE VIEW credits_ops.recharge_facts AS
SELECT r.*,
       coalesce(l.credits_n, 0) AS credits_n,
       coalesce(l.credited, 0) AS credited,
       coalesce(l.adjusted, 0) AS adjusted,
       coalesce(l.net, 0) AS net,
       l.smallest_credit,
       l.largest_credit
FROM credits_ops.recharge_scope r
LEFT JOIN (
    SELECT t.related_recharge_id,
           count(*) FILTER (WHERE t.type = 'recharge') AS credits_n,
           sum(t.amount) FILTER (WHERE t.type = 'recharge') AS credited,
           sum(t.amount) FILTER (WHERE t.type = 'adjustment') AS adjusted,
           sum(t.amount) AS net,
           min(t.amount) FILTER (WHERE t.type = 'recharge') AS smallest_credit,
           max(t.amount) FILTER (WHERE t.type = 'recharge') AS largest_credit
    FROM credits_ops.app_transaction t
    WHERE t.related_recharge_id IS NOT NULL
    GROUP BY t.related_recharge_id
) l ON l.related_recharge_id = r.id;

-- One row per user with a ledger row or a balance row (of credits.user_id
-- when set): the ledger's count and sum, and the cached balance (NULL
-- without a balance row). At any age: a balance is the whole ledger's sum.
CREATE VIEW credits_ops.user_facts AS
WITH subject AS (
    SELECT nullif(current_setting('credits.user_id', true), '') AS user_id
)
SELECT coalesce(l.user_id, b.user_id) AS user_id,
       coalesce(l.n, 0) AS ledger_n,
       coalesce(l.total, 0) AS ledger_sum,
       b.balance,
       b.user_id IS NOT NULL AS has_balance_row
FROM (SELECT t.user_id, count(*) AS n, sum(t.amount) AS total
      FROM credits_ops.app_transaction t, subject s
      WHERE CASE WHEN s.user_id IS NULL THEN true ELSE t.user_id = s.user_id END
      GROUP BY t.user_id) l
FULL JOIN (SELECT b.user_id, b.balance
           FROM credits_ops.app_balance b, subject s
           WHERE CASE WHEN s.user_id IS NULL THEN true ELSE b.user_id = s.user_id END) b
       ON b.user_id = l.user_id;

REVOKE ALL ON credits_ops.recharge_facts, credits_ops.user_facts FROM PUBLIC;
