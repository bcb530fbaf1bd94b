-- credits health, the age of the newest success event; run only when
-- credits_ops.app_webhook_event exists (it is optional in the contract, and
-- a query naming an absent table does not parse, so this is a file of its
-- own). Whole seconds since the newest success event (the success types of
-- credits_ops.payment_evidence: a payment_intent.succeeded, a
-- checkout.session.async_payment_succeeded, or a checkout.session.completed
-- whose payment_status is 'paid'), whatever its processing status: it
-- shows that Stripe reaches the app. NULL when no success event was ever
-- stored. V020's index on the time lets it read backwards from the newest
-- event and stop at the first success.
-- (health's webhook_failed is the count of the check WEBHOOK_EVENT_FAILED.)
SELECT CASE WHEN s.at IS NOT NULL  -- greatest() alone would turn NULL into 0
            THEN greatest(floor(extract(epoch FROM now() - s.at)), 0)::bigint
       END AS seconds_since_last_success
FROM (SELECT max(e.received_at) AS at
      FROM credits_ops.app_webhook_event e
      WHERE e.type IN ('payment_intent.succeeded', 'checkout.session.async_payment_succeeded')
         OR (e.type = 'checkout.session.completed'
             AND e.payload #>> '{data,object,payment_status}' = 'paid')) AS s;
