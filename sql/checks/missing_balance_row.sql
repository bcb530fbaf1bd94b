-- title: A user with transactions has no balance row
-- severity: error
-- fix: credits fix-user <user_id>
WITH ledger AS (
    SELECT t.user_id, count(*) AS n, sum(t.amount) AS total
    FROM credits_ops.app_transaction t
    WHERE CASE WHEN nullif(current_setting('credits.user_id', true), '') IS NULL THEN true
               ELSE t.user_id = nullif(current_setting('credits.user_id', true), '') END
    GROUP BY t.user_id
)
SELECT 'MISSING_BALANCE_ROW'::text AS check_name,
       'error'::text AS severity,
       NULL::text AS recharge_id,
       l.user_id,
       NULL::text AS payment_intent_id,
       l.total::bigint AS credits,
       format('%s transactions summing to %s, no user_credit_balance row', l.n, l.total) AS detail,
       'credits fix-user ' || l.user_id AS fix
FROM ledger l
WHERE NOT EXISTS (SELECT FROM credits_ops.app_balance b WHERE b.user_id = l.user_id)
ORDER BY l.user_id;
