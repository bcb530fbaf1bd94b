-- The install lock: serialises installs. Transaction-scoped, so it is
-- released at COMMIT or ROLLBACK and safe through a transaction-mode pooler.
-- `credits install` tries it and, when another install holds it, rolls back
-- and tries again later rather than waiting inside a transaction (a waiting
-- transaction would stall the other install's CREATE INDEX CONCURRENTLY).
SELECT pg_try_advisory_xact_lock(hashtextextended('credits_ops.schema_history', 0));
