-- credits health, webhook metrics; run only when credits_ops.app_webhook_event
-- exists (it is optional in the contract, and a query naming an absent table
-- does not parse, so this is a file of its own):
--   failed_events: events that failed, or were received longer than
--     credits.stuck_after ago and never processed, since the setting
--     credits.since (default 7 days ago), whose payment is not credited
--     since: the definition of the check WEBHOOK_EVENT_FAILED;
--   seconds_since_last_success: whole seconds since the newest success event
--     (the success types of credits_ops.payment_evidence: a
--     payment_intent.succeeded, a checkout.session.async_payment_succeeded,
--     or a checkout.session.completed whose payment_status is 'paid'),
--     whatever its processing status: it shows that Stripe reaches the app.
--     NULL when no success event was ever stored.
-- Each setting is read once, in a scalar subquery, not once per event.
-- The failed events are few: they are found first, then looked up by
-- payment intent in a top-level anti-join (a NOT EXISTS inside the count
-- would run once per event over every recharge).
WITH failed AS (
    SELECT e.payment_intent_id
    FROM credits_ops.app_webhook_event e
    WHERE (e.status = 'failed'
           OR (e.status = 'received'
               AND e.received_at < now() - (SELECT coalesce(nullif(current_setting('credits.stuck_after', true), ''),
                                                            '1 hour')::interval)))
      AND e.received_at >= (SELECT coalesce(nullif(current_setting('credits.since', true), '')::timestamptz,
                                            now() - interval '7 days'))
), uncredited AS (
    -- As the check WEBHOOK_EVENT_FAILED counts: a failure whose payment has
    -- been credited since is over.
    SELECT count(*) AS n
    FROM failed f
    WHERE NOT EXISTS (SELECT FROM credits_ops.app_recharge r
                      JOIN credits_ops.app_transaction t
                        ON t.related_recharge_id = r.id AND t.type = 'recharge'
                      WHERE r.payment_intent_id = f.payment_intent_id)
), last_success AS (
    SELECT max(e.received_at) AS at
    FROM credits_ops.app_webhook_event e
    WHERE e.type IN ('payment_intent.succeeded', 'checkout.session.async_payment_succeeded')
       OR (e.type = 'checkout.session.completed'
           AND e.payload #>> '{data,object,payment_status}' = 'paid')
)
SELECT u.n AS failed_events,
       CASE WHEN s.at IS NOT NULL  -- greatest() alone would turn NULL into 0
            THEN greatest(floor(extract(epoch FROM now() - s.at)), 0)::bigint
       END AS seconds_since_last_success
FROM uncredited u, last_success s;
