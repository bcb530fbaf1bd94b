-- The head of the one statement credits debug and health run: the facts of
-- V013, computed once and materialized, then every check of sql/checks/
-- appended as a branch of a UNION ALL (src/checks.rs). The checks name
-- them unqualified, so these CTEs stand in for the views of the same name.
WITH recharge_facts AS MATERIALIZED (SELECT * FROM credits_ops.recharge_facts),
     user_facts AS MATERIALIZED (SELECT * FROM credits_ops.user_facts)
