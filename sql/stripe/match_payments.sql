-- credits stripe check and reconcile: the recharges of one page of Stripe
-- payments, in one query however many payments the page has.
-- $1 text[]: payment intent ids; $2 text[]: the recharge id each payment's
-- metadata names ('' when none), in the same order.
-- One row per payment, in the given order (n from 1): the recharge with that
-- payment intent, else the recharge its metadata names, else NULLs; with
-- how many `recharge` transactions credit it and the net credits all its
-- transactions grant. A payment intent two recharges share gives the one
-- credited first (duplicate recharges are the checks' business).
WITH page AS (
    SELECT p.payment_intent_id, nullif(p.recharge_ref, '') AS recharge_ref, p.n
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(payment_intent_id, recharge_ref, n)
)
SELECT page.n::bigint AS n,
       r.id AS recharge_id,
       r.user_id,
       r.amount AS credits,
       r.price,
       r.currency,
       r.status,
       r.payment_intent_id,
       coalesce(r.by_metadata, false) AS by_metadata,
       coalesce(t.recharge_transactions, 0)::bigint AS recharge_transactions,
       coalesce(t.net_credits, 0)::bigint AS net_credits
FROM page
LEFT JOIN LATERAL (
    SELECT m.*
    FROM (SELECT r.*, false AS by_metadata
          FROM credits_ops.app_recharge r
          WHERE r.payment_intent_id = page.payment_intent_id
          UNION ALL
          SELECT r.*, true
          FROM credits_ops.app_recharge r
          WHERE r.id = page.recharge_ref) m
    ORDER BY m.by_metadata,
             EXISTS (SELECT FROM credits_ops.app_transaction x
                     WHERE x.related_recharge_id = m.id AND x.type = 'recharge') DESC,
             m.created_at
    LIMIT 1
) r ON true
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE ct.type = 'recharge') AS recharge_transactions,
           sum(ct.amount) AS net_credits
    FROM credits_ops.app_transaction ct
    WHERE ct.related_recharge_id = r.id
) t ON true
ORDER BY page.n;
