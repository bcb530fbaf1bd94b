-- credits-bench: the open transactions of `credits` processes, polled from a
-- second connection. xact_age is how long the transaction has been open;
-- holds_xid says it has written or locked a row (a transaction id is
-- assigned at the first row lock or write, and row locks last until commit).
SELECT pid,
       xact_start,
       extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_age,
       backend_xid IS NOT NULL AS holds_xid
FROM pg_stat_activity
WHERE application_name = 'credits'
  AND backend_type = 'client backend'
  AND xact_start IS NOT NULL;
