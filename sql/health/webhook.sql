-- credits health, webhook metrics; run only when credits_ops.app_webhook_event
-- exists (it is optional in the contract, and a query naming an absent table
-- does not parse, so this is a file of its own). One pass over the table:
--   failed_events: events with status 'failed' received since the setting
--     credits.since (default 7 days ago);
--   seconds_since_last_success: whole seconds since the newest success event
--     (the success types of credits_ops.payment_evidence: a
--     payment_intent.succeeded, a checkout.session.async_payment_succeeded,
--     or a checkout.session.completed whose payment_status is 'paid'),
--     whatever its processing status: it shows that Stripe reaches the app.
--     NULL when no success event was ever stored.
SELECT s.failed_events,
       CASE WHEN s.last_success IS NOT NULL  -- greatest() alone would turn NULL into 0
            THEN greatest(floor(extract(epoch FROM now() - s.last_success)), 0)::bigint
       END AS seconds_since_last_success
FROM (
    SELECT count(*) FILTER (
               WHERE e.status = 'failed'
                 AND e.received_at >= coalesce(nullif(current_setting('credits.since', true), '')::timestamptz,
                                               now() - interval '7 days')) AS failed_events,
           max(e.received_at) FILTER (
               WHERE e.type IN ('payment_intent.succeeded', 'checkout.session.async_payment_succeeded')
                  OR (e.type = 'checkout.session.completed'
                      AND e.payload #>> '{data,object,payment_status}' = 'paid')) AS last_success
    FROM credits_ops.app_webhook_event e
) s;
