-- credits-bench: recharges the webhook has yet to credit, for the latency of
-- apply_recharge under concurrent callers. Each is completed by the app
-- with no ledger row (the case apply_recharge credits), for users spread
-- over the balances. $1 how many (int). Returns their ids and users.
WITH users AS (
    SELECT array_agg(b.user_id ORDER BY random()) AS ids
    FROM (SELECT user_id FROM public.user_credit_balance LIMIT 100000) b
)
INSERT INTO public.credit_recharge (user_id, amount, status, payment_intent_id)
SELECT u.ids[1 + g % cardinality(u.ids)], 100, 'completed', 'pi_bench_webhook_' || g
FROM users u, generate_series(1, $1::int) g
RETURNING id::text AS id, user_id::text AS user_id;
