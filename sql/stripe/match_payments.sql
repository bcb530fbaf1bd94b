-- credits stripe check and reconcile: the recharges of one page of Stripe
-- payments, in one query however many payments the page has.
-- $1 text[]: payment intent ids; $2 text[]: the recharge id each payment's
-- metadata names ('' when none), in the same order.
-- One row per payment, in the given order (n from 1): the recharge with that
-- payment intent, else the recharge its metadata names, else NULLs; with
-- how many `recharge` transactions credit it and the net credits all its
-- transactions grant. A payment intent two recharges share gives the one
-- credited first (duplicate recharges are the checks' business).
-- Each way of matching is one join over the whole page, not one lookup per
-- payment: the metadata's ids are compared as text, which no index of the
-- app serves, so they are looked up only for the payments left unmatched.
WITH page AS (
    SELECT p.payment_intent_id, nullif(p.recharge_ref, '') AS recharge_ref, p.n
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(payment_intent_id, recharge_ref, n)
), by_payment_intent AS (
    SELECT DISTINCT ON (page.n) page.n, r.*, false AS by_metadata
    FROM page
    JOIN credits_ops.app_recharge r ON r.payment_intent_id = page.payment_intent_id
    ORDER BY page.n,
             EXISTS (SELECT FROM credits_ops.app_transaction x
                     WHERE x.related_recharge_id = r.id AND x.type = 'recharge') DESC,
             r.created_at
), by_metadata AS (
    SELECT DISTINCT ON (page.n) page.n, r.*, true AS by_metadata
    FROM page
    JOIN credits_ops.app_recharge r ON r.id = page.recharge_ref
    WHERE NOT EXISTS (SELECT FROM by_payment_intent b WHERE b.n = page.n)
    ORDER BY page.n, r.created_at
), matched AS (
    SELECT * FROM by_payment_intent
    UNION ALL
    SELECT * FROM by_metadata
)
SELECT page.n::bigint AS n,
       m.id AS recharge_id,
       m.user_id,
       m.amount AS credits,
       m.price,
       m.currency,
       m.status,
       m.payment_intent_id,
       coalesce(m.by_metadata, false) AS by_metadata,
       coalesce(t.recharge_transactions, 0)::bigint AS recharge_transactions,
       coalesce(t.net_credits, 0)::bigint AS net_credits
FROM page
LEFT JOIN matched m ON m.n = page.n
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE ct.type = 'recharge') AS recharge_transactions,
           sum(ct.amount) AS net_credits
    FROM credits_ops.app_transaction ct
    WHERE ct.related_recharge_id = m.id
) t ON true
ORDER BY page.n;
