-- title: A transaction moved a balance by another amount than the ledger rows it wrote: drift at its birth, with the writer's role and application_name (the balance audit trail of `credits audit enable`)
-- severity: warning
-- fix: none: find the writer by its role and application_name and fix it (credits log --writers --user <user_id>), then credits fix-user <user_id> for the balance
-- requires: credits_ops.balance_audit = the balance audit trail (credits audit enable)
-- Reads credits_ops.balance_writer (V014): per transaction and user, how far
-- the balance and the ledger moved, and whether that is flagged (not for
-- credits' own repairs). Also left out here: anything before a later
-- `balance_corrected` repair of that user (the drift it caused was
-- repaired). Within --since, of credits.user_id when set.
SELECT 'BALANCE_MOVED_WITHOUT_LEDGER'::text AS check_name,
       'warning'::text AS severity,
       NULL::text AS recharge_id,
       a.user_id,
       NULL::text AS payment_intent_id,
       (a.balance_delta - a.ledger_delta)::bigint AS credits,
       format('transaction %s at %s by role %s (application_name %L): balance %s -> %s (%s), ledger %s in %s row(s)',
              a.xact_id, date_trunc('second', a.at), a.db_role, a.application_name,
              coalesce(a.balance_before::text, 'none'), coalesce(a.balance_after::text, 'none'),
              CASE WHEN a.balance_delta > 0 THEN '+' ELSE '' END || a.balance_delta,
              CASE WHEN a.ledger_delta > 0 THEN '+' ELSE '' END || a.ledger_delta,
              a.ledger_rows) AS detail,
       'credits log --writers --user ' || a.user_id AS fix
FROM credits_ops.balance_writer a
WHERE a.moved_without_ledger
  AND a.at >= coalesce(nullif(current_setting('credits.since', true), '')::timestamptz, '-infinity')
  AND CASE WHEN nullif(current_setting('credits.user_id', true), '') IS NULL THEN true
           ELSE a.user_id = current_setting('credits.user_id', true) END
  AND NOT EXISTS (SELECT FROM credits_ops.repair_log l
                  WHERE l.action = 'balance_corrected' AND l.user_id = a.user_id AND l.logged_at > a.at)
ORDER BY a.at, a.user_id;
