-- title: More than one recharge transaction for one recharge: credited twice
-- severity: error
-- fix: credits fix-user <user_id> --reverse-duplicates
-- Reads recharge_facts (V013): the recharges in scope with what the ledger
-- holds for each. In psql: SET search_path = credits_ops, public;
-- A duplicate already reversed by an `adjustment` linked to the recharge
-- (credits fix-user --reverse-duplicates) is no longer a finding.
SELECT 'DUPLICATE_CREDIT'::text AS check_name,
       'error'::text AS severity,
       r.id AS recharge_id,
       r.user_id,
       r.payment_intent_id,
       (r.credited + r.adjusted - r.amount)::bigint AS credits,
       format('%s recharge transactions granting %s credits for a recharge of %s', r.credits_n, r.credited, r.amount) AS detail,
       'credits fix-user ' || r.user_id || ' --reverse-duplicates' AS fix
FROM recharge_facts r
WHERE r.credits_n > 1 AND r.credited + r.adjusted > r.amount
ORDER BY r.created_at;
