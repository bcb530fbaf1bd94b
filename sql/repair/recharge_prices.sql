-- What Stripe must have collected for each recharge ($1 ids), where the app
-- stores it: the price in the currency's minor unit, and the currency.
SELECT r.id AS recharge_id, r.price, r.currency
FROM credits_ops.app_recharge r
WHERE r.id = ANY ($1::text[]);
