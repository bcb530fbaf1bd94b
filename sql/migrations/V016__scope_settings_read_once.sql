-- The diagnosis window read once per statement, not once per recharge.
-- V003's credits_ops.recharge_scope compared every row with
-- current_setting(...) calls, which PostgreSQL evaluates row by row (a
-- setting is looked up by name each time): 1.5 s of a 1M-recharge diagnosis
-- went to reading the three settings a million times, and the window could
-- not use the (created_at) index. Here each setting is an uncorrelated
-- scalar subquery, which the planner runs once (an InitPlan) and passes on
-- as a parameter; an index can then bound its scan by it. The CASE form
-- stays, for V003's reason: the planner estimates it at one half, and
-- "setting IS NULL OR column = setting" at almost no row.
-- Same columns, same rows: the checks and a DBA's `SET credits.since` in
-- psql read it as before.
CREATE OR REPLACE VIEW credits_ops.recharge_scope AS
SELECT r.*
FROM credits_ops.app_recharge r
WHERE r.created_at >= (SELECT coalesce(nullif(current_setting('credits.since', true), '')::timestamptz,
                                       now() - interval '7 days'))
  AND CASE WHEN (SELECT nullif(current_setting('credits.user_id', true), '')) IS NULL THEN true
           ELSE r.user_id = (SELECT nullif(current_setting('credits.user_id', true), '')) END
  AND CASE WHEN (SELECT nullif(current_setting('credits.payment_intent', true), '')) IS NULL THEN true
           ELSE r.payment_intent_id = (SELECT nullif(current_setting('credits.payment_intent', true), '')) END;
