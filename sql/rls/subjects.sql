-- Who and what the probes use: a real user with rows (preferably a balance
-- and a recharge), another user with rows, and a recharge for the webhook
-- probe (preferably a completed one not yet credited). NULL when there is
-- no such data; the command then uses synthetic ids. Ids are text, as the
-- adapter views give them.
WITH me AS (
    SELECT coalesce(
        (SELECT b.user_id FROM credits_ops.app_balance b
          WHERE EXISTS (SELECT FROM credits_ops.app_recharge r WHERE r.user_id = b.user_id)
          ORDER BY b.user_id LIMIT 1),
        (SELECT b.user_id FROM credits_ops.app_balance b ORDER BY b.user_id LIMIT 1),
        (SELECT r.user_id FROM credits_ops.app_recharge r LIMIT 1),
        (SELECT t.user_id FROM credits_ops.app_transaction t LIMIT 1)) AS id
)
SELECT me.id AS me,
       coalesce(
           (SELECT b.user_id FROM credits_ops.app_balance b
             WHERE b.user_id IS DISTINCT FROM me.id ORDER BY b.user_id LIMIT 1),
           (SELECT r.user_id FROM credits_ops.app_recharge r
             WHERE r.user_id IS DISTINCT FROM me.id LIMIT 1),
           (SELECT t.user_id FROM credits_ops.app_transaction t
             WHERE t.user_id IS DISTINCT FROM me.id LIMIT 1)) AS other,
       coalesce(
           (SELECT r.id FROM credits_ops.app_recharge r
             WHERE r.status = 'completed'
               AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                               WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
             LIMIT 1),
           (SELECT r.id FROM credits_ops.app_recharge r LIMIT 1)) AS recharge,
       gen_random_uuid()::text AS synthetic_me,
       gen_random_uuid()::text AS synthetic_other,
       gen_random_uuid()::text AS synthetic_recharge
FROM me;
