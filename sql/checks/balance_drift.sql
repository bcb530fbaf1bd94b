-- title: Cached balance differs from the sum of the user's ledger
-- severity: error
-- fix: credits fix-user <user_id>
-- Per user, at any age (a balance is the sum of the whole ledger); the
-- recharge window does not apply, credits.user_id does.
WITH ledger AS (
    SELECT t.user_id, sum(t.amount) AS total
    FROM credits_ops.app_transaction t
    WHERE CASE WHEN nullif(current_setting('credits.user_id', true), '') IS NULL THEN true
               ELSE t.user_id = nullif(current_setting('credits.user_id', true), '') END
    GROUP BY t.user_id
)
SELECT 'BALANCE_DRIFT'::text AS check_name,
       'error'::text AS severity,
       NULL::text AS recharge_id,
       b.user_id,
       NULL::text AS payment_intent_id,
       (coalesce(l.total, 0) - b.balance)::bigint AS credits,
       format('balance %s, ledger sum %s', b.balance, coalesce(l.total, 0)) AS detail,
       'credits fix-user ' || b.user_id AS fix
FROM credits_ops.app_balance b
LEFT JOIN ledger l ON l.user_id = b.user_id
WHERE b.balance IS DISTINCT FROM coalesce(l.total, 0)
  AND CASE WHEN nullif(current_setting('credits.user_id', true), '') IS NULL THEN true
           ELSE b.user_id = nullif(current_setting('credits.user_id', true), '') END
ORDER BY b.user_id;
