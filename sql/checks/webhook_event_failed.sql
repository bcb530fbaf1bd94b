-- title: Webhook event that failed or was never processed, for a payment not credited
-- severity: warning
-- fix: credits retry-failed --include-pending
-- requires: credits_ops.app_webhook_event = the app's webhook events table (public.stripe_webhook_event, or webhook_events.table in credits.toml)
-- Events whose payment was credited since are resolved and not listed.
-- "Never processed": still 'received' longer than --stuck-after after it
-- arrived (a handler may legitimately still be working before that).
-- Each setting is read once, in a scalar subquery, not once per event.
SELECT 'WEBHOOK_EVENT_FAILED'::text AS check_name,
       'warning'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       e.payment_intent_id,
       r.amount::bigint AS credits,
       CASE e.status
           WHEN 'failed' THEN format('%s %s failed at %s: %s', e.type, e.id, date_trunc('second', e.received_at), coalesce(e.error, 'no error recorded'))
           ELSE format('%s %s received at %s and never processed', e.type, e.id, date_trunc('second', e.received_at))
       END AS detail,
       'credits retry-failed --include-pending --since ' || coalesce(nullif(current_setting('credits.since_arg', true), ''), '7d') AS fix
FROM credits_ops.app_webhook_event e
LEFT JOIN credits_ops.app_recharge r ON r.payment_intent_id = e.payment_intent_id
WHERE (e.status = 'failed'
       OR (e.status = 'received'
           AND e.received_at < now() - (SELECT coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval)))
  AND e.received_at >= (SELECT coalesce(nullif(current_setting('credits.since', true), '')::timestamptz, now() - interval '7 days'))
  AND CASE WHEN (SELECT nullif(current_setting('credits.payment_intent', true), '')) IS NULL THEN true
           ELSE e.payment_intent_id = (SELECT nullif(current_setting('credits.payment_intent', true), '')) END
  AND CASE WHEN (SELECT nullif(current_setting('credits.user_id', true), '')) IS NULL THEN true
           ELSE r.user_id = (SELECT nullif(current_setting('credits.user_id', true), '')) END
  AND NOT EXISTS (SELECT FROM credits_ops.app_transaction t
                  WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
ORDER BY e.received_at;
