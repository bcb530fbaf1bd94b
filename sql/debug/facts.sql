-- The head of the statement credits debug and health run when they
-- read the tables (--rescan, or while V019's kept facts are not built):
-- the facts of V013, computed once and materialized, then every check of
-- sql/checks/ that reads them appended as a branch of a UNION ALL (src/checks.rs). The
-- checks name them unqualified, so these CTEs stand in for the views of
-- the same name. A plainly credited recharge (completed, with exactly one
-- `recharge` transaction of its amount) and a balanced user (a balance row
-- equal to the ledger's sum) are ones no check flags, and nearly every
-- recharge and user is one: they are left out here (V019's rules), so the
-- checks read a few percent of the rows instead of re-reading all of them,
-- each in turn. A new check must not flag such a row (tests/e2e/debug.rs
-- runs every check alone against the views, as in psql, and compares).
WITH recharge_facts AS MATERIALIZED (
         SELECT * FROM credits_ops.recharge_facts r
         WHERE NOT credits_ops.plainly_credited(r.status, r.credits_n, r.smallest_credit, r.amount)),
     user_facts AS MATERIALIZED (
         SELECT * FROM credits_ops.user_facts u
         WHERE NOT credits_ops.balanced_user(u.has_balance_row, u.balance, u.ledger_sum))
