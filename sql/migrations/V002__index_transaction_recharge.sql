-- credits:no-transaction
-- Every diagnosis joins recharges to their transactions by
-- related_recharge_id; without this index each check scans the whole ledger.
-- Built CONCURRENTLY so the live webhook keeps writing while it builds
-- (which is why this file runs outside a transaction and holds one statement).
-- If a previous attempt was interrupted it leaves an INVALID index of this
-- name: DROP INDEX CONCURRENTLY public.credits_transaction_recharge_idx; then
-- run `credits install` again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS credits_transaction_recharge_idx
    ON public.credit_transaction (related_recharge_id)
    WHERE related_recharge_id IS NOT NULL;
