-- credits:no-transaction
-- The checks look for recharges by status within a time window (failed,
-- pending for too long, completed since ...); without this index each
-- check reads every recharge ever made. Built CONCURRENTLY so the live
-- webhook keeps writing meanwhile. If an attempt was interrupted it leaves
-- an INVALID index: DROP INDEX CONCURRENTLY public.credits_recharge_status_created_idx;
-- then run `credits install` again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS credits_recharge_status_created_idx
    ON public.credit_recharge (status, created_at);
