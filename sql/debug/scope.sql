-- The scope every check reads (see credits_ops.recharge_scope), for this
-- transaction only. $1 since (timestamptz text), $2 stuck_after (interval
-- text), $3 user id ('' for all), $4 payment intent ('' for all), $5 the
-- --since argument as typed, for the fix commands the checks print.
-- Its memory is the snapshot's (sql/session/snapshot_memory.sql).
SELECT set_config('credits.since', $1, true),
       set_config('credits.stuck_after', $2, true),
       set_config('credits.user_id', $3, true),
       set_config('credits.payment_intent', $4, true),
       set_config('credits.since_arg', $5, true);
