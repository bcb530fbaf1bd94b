-- The scope every check reads (see credits_ops.recharge_scope), for this
-- transaction only. $1 since (timestamptz text), $2 stuck_after (interval
-- text), $3 user id ('' for all), $4 payment intent ('' for all), $5 the
-- --since argument as typed, for the fix commands the checks print.
-- Also what the one diagnosis statement needs: memory for its hash joins
-- and aggregates, so they do not spill to disk at a million recharges, and
-- no JIT, whose compile time outweighed what it saved (measured).
SELECT set_config('work_mem', '64MB', true),
       set_config('jit', 'off', true),
       set_config('credits.since', $1, true),
       set_config('credits.stuck_after', $2, true),
       set_config('credits.user_id', $3, true),
       set_config('credits.payment_intent', $4, true),
       set_config('credits.since_arg', $5, true);
