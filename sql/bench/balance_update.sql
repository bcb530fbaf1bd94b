-- credits-bench: a plain single-row balance update, as an app's own code
-- writes one (no ledger row: the audit trail flags it). $1 user id (text).
UPDATE public.user_credit_balance SET balance = balance + 1 WHERE user_id = $1::text::uuid;
