-- The head of the statement of credits debug and health when V019's kept
-- facts are usable (sql/kept/state.sql): the same facts as
-- sql/debug/facts.sql, in the same scope, read from what credits keeps as
-- the app writes instead of from the whole ledger.
WITH recharge_facts AS MATERIALIZED (SELECT * FROM credits_ops.kept_recharge_facts),
     user_facts AS MATERIALIZED (SELECT * FROM credits_ops.kept_user_facts)
