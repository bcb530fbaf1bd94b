-- Every recharge of the user, at any age, with whether (and how often) it
-- was credited. $1: user id.
SELECT r.id AS recharge_id,
       r.created_at AS payment_time,
       r.payment_intent_id,
       r.amount::bigint AS credits,
       r.status,
       count(t.id)::bigint AS recharge_transactions,
       coalesce(sum(t.amount), 0)::bigint AS credited
FROM credits_ops.app_recharge r
LEFT JOIN credits_ops.app_transaction t ON t.related_recharge_id = r.id AND t.type = 'recharge'
WHERE r.user_id = $1
GROUP BY r.id, r.created_at, r.payment_intent_id, r.amount, r.status
ORDER BY r.created_at DESC;
