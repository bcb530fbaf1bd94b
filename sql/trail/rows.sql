-- What the balance audit trail holds, for `credits audit status`: its rows,
-- the oldest and newest, how many of the last day's moved a balance without
-- the ledger (credits_ops.balance_writer, as `log --writers` marks them),
-- and the errors the triggers caught.
SELECT (SELECT count(*) FROM credits_ops.balance_audit) AS rows,
       (SELECT min(a.at) FROM credits_ops.balance_audit a) AS oldest,
       (SELECT max(a.at) FROM credits_ops.balance_audit a) AS newest,
       (SELECT count(*) FROM credits_ops.balance_writer w
         WHERE w.at >= now() - interval '1 day' AND w.moved_without_ledger) AS moved_without_ledger_1d,
       (SELECT count(*) FROM credits_ops.balance_audit_error) AS errors,
       (SELECT format('%s at %s on %s: %s', e.sqlstate, date_trunc('second', e.at), e.app_table, e.message)
          FROM credits_ops.balance_audit_error e ORDER BY e.id DESC LIMIT 1) AS last_error;
