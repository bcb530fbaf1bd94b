-- The head of the statement of credits debug and health when V019's kept
-- facts are usable (sql/kept/state.sql): the same facts as
-- sql/debug/facts.sql, in the same scope, read from what credits keeps as
-- the app writes instead of from the whole ledger. Not forced MATERIALIZED:
-- a statement naming them more than once (the checks) gets them computed
-- once anyway, and one naming them once (health's stuck age) has its
-- filters pushed into the kept rows' scan (25 ms instead of 150 at 1M).
-- evidence_facts stands in for V024's view, over the same kept facts: read
-- from the view again, not from recharge_facts, which a second reference
-- would materialize whole in every statement with this head (health's
-- stuck age 25 -> 60 ms), whether or not it names evidence_facts.
WITH recharge_facts AS (SELECT * FROM credits_ops.kept_recharge_facts),
     user_facts AS (SELECT * FROM credits_ops.kept_user_facts),
     evidence_facts AS (
         SELECT e.payment_intent_id, e.sources, e.forgeable
         FROM credits_ops.evidence_summary(ARRAY(
                  SELECT r.payment_intent_id FROM credits_ops.kept_recharge_facts r
                  WHERE r.status IN ('failed', 'pending') AND r.credits_n = 0
                    AND r.payment_intent_id IS NOT NULL)) e)
