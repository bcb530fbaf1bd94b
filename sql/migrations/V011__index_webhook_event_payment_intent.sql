-- credits:no-transaction
-- credits:optional
-- credits:precondition preconditions/webhook_event_table.sql
-- Evidence of payment (credits_ops.payment_evidence) looks up webhook events
-- by payment intent, once per recharge that apply_recharge considers: for
-- the live webhook, retry-failed and the checks. Without this index every
-- lookup reads the whole event table (measured: retry-failed on 1M
-- recharges and 1.1M events did not finish in 2 minutes). Built
-- CONCURRENTLY so the webhook keeps writing meanwhile; skipped, and said so,
-- where the optional table does not exist.
CREATE INDEX CONCURRENTLY IF NOT EXISTS credits_webhook_event_payment_intent_idx
    ON public.stripe_webhook_event (payment_intent_id);
