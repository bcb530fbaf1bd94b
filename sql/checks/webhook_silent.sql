-- title: No payment success event has arrived for longer than --stuck-after while recharges wait: the webhook is probably misconfigured or not reaching the app
-- severity: error
-- scope: database
-- fix: none: check the endpoint and its signing secret in the Stripe dashboard (Developers > Webhooks)
-- requires: credits_ops.app_webhook_event = the app's webhook events table (public.stripe_webhook_event, or webhook_events.table in credits.toml)
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
WITH last_success AS (
    SELECT max(e.received_at) AS at
    FROM credits_ops.app_webhook_event e
    WHERE e.type IN ('payment_intent.succeeded', 'checkout.session.async_payment_succeeded',
                     'checkout.session.completed')
), waiting AS (
    SELECT count(*) AS n, min(r.created_at) AS oldest, sum(r.amount) AS credits
    FROM recharge_facts r, last_success s
    WHERE r.status = 'pending'
      AND r.created_at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval
      AND (s.at IS NULL OR r.created_at > s.at)
)
SELECT 'WEBHOOK_SILENT'::text AS check_name,
       'error'::text AS severity,
       NULL::text AS recharge_id,
       NULL::text AS user_id,
       NULL::text AS payment_intent_id,
       w.credits::bigint AS credits,
       format('last success event: %s; %s recharges pending since then (oldest %s)',
              coalesce(date_trunc('second', s.at)::text, 'never'), w.n, date_trunc('second', w.oldest)) AS detail,
       NULL::text AS fix
FROM waiting w, last_success s
WHERE w.n > 0
  AND (s.at IS NULL OR s.at < now() - coalesce(nullif(current_setting('credits.stuck_after', true), ''), '1 hour')::interval);
