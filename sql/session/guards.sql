-- Session guards for one transaction: how long a statement may run and how
-- long to wait for a lock. Transaction-local (set_config(..., true)), so they
-- never leak to another client through a transaction-mode pooler.
-- $1: statement_timeout in milliseconds, $2: lock_timeout in milliseconds.
SELECT set_config('statement_timeout', $1::text, true),
       set_config('lock_timeout', $2::text, true);
