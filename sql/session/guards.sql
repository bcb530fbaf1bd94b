-- Session guards for one transaction: how long a statement may run, how
-- long to wait for a lock, and how often the server checks that the client
-- is still there. Transaction-local (set_config(..., true)), so they never
-- leak to another client through a transaction-mode pooler.
-- client_connection_check_interval (PostgreSQL 14+): when the CLI is killed
-- (SIGKILL, a lost laptop) the server stops its statement within a second
-- and releases its row locks, so a rerun does not find its own ghost
-- holding them. Older servers do not know the setting: it is only set where
-- it exists.
-- $1: statement_timeout in milliseconds, $2: lock_timeout in milliseconds.
SELECT set_config('statement_timeout', $1::text, true),
       set_config('lock_timeout', $2::text, true),
       CASE WHEN current_setting('server_version_num')::int >= 140000
            THEN set_config('client_connection_check_interval', '1000', true)
       END;
