-- What V010__rls_least_privilege.sql did in this transaction: the policies
-- it dropped and the functions it revoked from the API roles (JSON lists).
SELECT coalesce(nullif(current_setting('credits.rls_dropped', true), ''), '[]') AS dropped,
       coalesce(nullif(current_setting('credits.rls_revoked', true), ''), '[]') AS revoked;
