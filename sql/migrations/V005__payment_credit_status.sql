-- credits_ops.payment_credit_status: the runbook's monitoring view, corrected.
-- One row per recharge (every age: filter on payment_time), with the
-- category the checks of sql/checks/ give it. Unlike the runbook's view it
--   - tells a failed recharge that was paid (FAILED_PAID) from one that was
--     not (FAILED_UNVERIFIED), where the runbook says PROCESSING for both;
--   - sees double credits (DUPLICATE_CREDIT), wrong amounts
--     (AMOUNT_MISMATCH), credits granted without completion
--     (CREDITED_NOT_COMPLETED), refunds still credited and unknown statuses;
--   - returns one row per recharge even when it has several transactions.
-- Balance drift is per user, not per recharge: current_balance is shown
-- here, and `credits debug` reports BALANCE_DRIFT and MISSING_BALANCE_ROW.
-- Evidence comes from credits_ops.payment_evidence, as in the checks.
-- A recharge pending longer than the setting credits.stuck_after (default
-- 1 hour) is stuck.
CREATE VIEW credits_ops.payment_credit_status AS
SELECT r.id AS recharge_id,
       r.user_id,
       r.amount AS credits,
       r.status AS recharge_status,
       r.app_status,
       r.payment_intent_id,
       r.created_at AS payment_time,
       t.first_id AS transaction_id,
       t.first_at AS credit_time,
       coalesce(t.recharges, 0) AS recharge_transactions,
       coalesce(t.credited, 0) AS credited,
       b.balance AS current_balance,
       CASE
           WHEN r.status = 'unknown' THEN 'UNKNOWN_STATUS'
           WHEN t.recharges > 1 THEN 'DUPLICATE_CREDIT'
           WHEN t.mismatched THEN 'AMOUNT_MISMATCH'
           WHEN t.recharges >= 1 AND r.status IN ('pending', 'failed', 'canceled')
               THEN 'CREDITED_NOT_COMPLETED'
           WHEN r.status = 'refunded' AND t.net > 0 THEN 'REFUNDED_NOT_DEBITED'
           WHEN r.status = 'completed' AND coalesce(t.recharges, 0) = 0 THEN 'MISSING_TRANSACTION'
           WHEN r.status = 'failed' THEN
               CASE WHEN EXISTS (SELECT FROM credits_ops.payment_evidence(ARRAY[r.payment_intent_id]))
                    THEN 'FAILED_PAID' ELSE 'FAILED_UNVERIFIED' END
           WHEN r.status = 'pending'
                AND r.created_at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval THEN
               CASE WHEN EXISTS (SELECT FROM credits_ops.payment_evidence(ARRAY[r.payment_intent_id]))
                    THEN 'STUCK_PENDING_PAID' ELSE 'STUCK_PENDING' END
           WHEN r.status = 'pending' THEN 'PROCESSING'
           WHEN r.status = 'canceled' THEN 'CANCELED'
           WHEN r.status = 'refunded' THEN 'REFUNDED'
           ELSE 'SUCCESS'
       END AS category
FROM credits_ops.app_recharge r
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE ct.type = 'recharge') AS recharges,
           sum(ct.amount) FILTER (WHERE ct.type = 'recharge') AS credited,
           bool_or(ct.type = 'recharge' AND ct.amount <> r.amount) AS mismatched,
           sum(ct.amount) AS net,
           (array_agg(ct.id ORDER BY ct.created_at) FILTER (WHERE ct.type = 'recharge'))[1] AS first_id,
           min(ct.created_at) FILTER (WHERE ct.type = 'recharge') AS first_at
    FROM credits_ops.app_transaction ct
    WHERE ct.related_recharge_id = r.id
) t ON true
LEFT JOIN credits_ops.app_balance b ON b.user_id = r.user_id;

REVOKE ALL ON credits_ops.payment_credit_status FROM PUBLIC;
