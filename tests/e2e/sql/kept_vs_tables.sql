-- How many rows V019's kept facts (as the commands read them: kept rows
-- plus the marked keys computed afresh) and V013's facts computed from the
-- tables disagree on, at any age, for recharges and for users; and how
-- many marks wait for a refresh.
WITH tables_r AS (
    SELECT * FROM credits_ops.recharge_facts r
    WHERE NOT credits_ops.plainly_credited(r.status, r.credits_n, r.smallest_credit, r.amount)
), kept_r AS (
    SELECT * FROM credits_ops.kept_recharge_facts
), tables_u AS (
    SELECT * FROM credits_ops.user_facts u
    WHERE NOT credits_ops.balanced_user(u.has_balance_row, u.balance, u.ledger_sum)
), kept_u AS (
    SELECT * FROM credits_ops.kept_user_facts
)
SELECT (SELECT count(*) FROM ((SELECT * FROM tables_r EXCEPT ALL SELECT * FROM kept_r)
                              UNION ALL
                              (SELECT * FROM kept_r EXCEPT ALL SELECT * FROM tables_r)) d) AS recharges_differing,
       (SELECT count(*) FROM ((SELECT * FROM tables_u EXCEPT ALL SELECT * FROM kept_u)
                              UNION ALL
                              (SELECT * FROM kept_u EXCEPT ALL SELECT * FROM tables_u)) d) AS users_differing,
       (SELECT count(*) FROM tables_r) AS recharges,
       (SELECT count(*) FROM tables_u) AS users,
       (SELECT count(*) FROM credits_ops.kept_fact_change) AS marks
