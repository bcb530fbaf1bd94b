-- The head of the one statement credits debug and health run: the facts of
-- V013, computed once and materialized, then every check of sql/checks/
-- appended as a branch of a UNION ALL (src/checks.rs). The checks name
-- them unqualified, so these CTEs stand in for the views of the same name.
-- A plainly credited recharge (completed, with exactly one `recharge`
-- transaction of its amount) is one no check flags, and nearly every
-- recharge is one: it is left out here, so the checks read a few percent
-- of the rows instead of re-reading all of them, each in turn. A new check
-- must not flag such a recharge (tests/e2e/debug.rs runs every check alone
-- against the views, as in psql, and compares).
WITH recharge_facts AS MATERIALIZED (
         SELECT * FROM credits_ops.recharge_facts r
         WHERE NOT (r.status = 'completed' AND r.credits_n = 1 AND r.smallest_credit = r.amount)),
     user_facts AS MATERIALIZED (SELECT * FROM credits_ops.user_facts)
