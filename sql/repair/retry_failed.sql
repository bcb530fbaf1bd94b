-- Credits the failed (and, with $2, stuck pending) recharges with evidence
-- of payment or attested by the operator (see credits_ops.retry_failed in
-- V008); a row per candidate recharge, saying what was done.
-- $1 since (timestamptz), $2 include pending, $3 stuck after (text, e.g.
-- '3600 seconds'), $4 attested payment intents (text[]), $5 operator,
-- $6 reason, $7 command, $8 the last recharge id of the previous batch (or
-- NULL), $9 the batch size.
SELECT recharge_id, user_id, payment_intent_id, credits, action, detail
FROM credits_ops.retry_failed($1, $2, $3::text::interval, $4, $5, $6, $7, $8, $9);
