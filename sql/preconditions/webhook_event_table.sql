-- What stops the index of V011 on stripe_webhook_event: the table is
-- optional and may not exist (then there is nothing to index), or an
-- interrupted build left an INVALID index of that name.
SELECT 'public.stripe_webhook_event does not exist: nothing to index' AS obstacle
WHERE to_regclass('public.stripe_webhook_event') IS NULL
UNION ALL
SELECT 'index public.credits_webhook_event_payment_intent_idx is INVALID (an interrupted build): '
       || 'DROP INDEX CONCURRENTLY public.credits_webhook_event_payment_intent_idx; then run credits install again'
FROM pg_index i
WHERE i.indexrelid = to_regclass('public.credits_webhook_event_payment_intent_idx') AND NOT i.indisvalid;
