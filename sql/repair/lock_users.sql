-- Locks the recharge and balance rows of a batch of users ($1), skipping
-- rows someone else holds (the live webhook, another repair) instead of
-- waiting; returns the users with any row skipped, which the batch leaves
-- alone. The rows locked stay locked until the batch commits.
WITH wanted AS (
    SELECT r.id, r.user_id FROM credits_ops.app_recharge r WHERE r.user_id = ANY ($1)
), got AS (
    SELECT r.id FROM credits_ops.app_recharge r WHERE r.user_id = ANY ($1)
    FOR UPDATE SKIP LOCKED
), balance_wanted AS (
    SELECT b.user_id FROM credits_ops.app_balance b WHERE b.user_id = ANY ($1)
), balance_got AS (
    SELECT b.user_id FROM credits_ops.app_balance b WHERE b.user_id = ANY ($1)
    FOR UPDATE SKIP LOCKED
)
SELECT w.user_id FROM wanted w WHERE w.id NOT IN (SELECT id FROM got)
UNION
SELECT bw.user_id FROM balance_wanted bw WHERE bw.user_id NOT IN (SELECT user_id FROM balance_got);
