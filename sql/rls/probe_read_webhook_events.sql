-- Probe: the stored Stripe webhook events the current role sees.
SELECT count(*) AS visible FROM public.stripe_webhook_event;
