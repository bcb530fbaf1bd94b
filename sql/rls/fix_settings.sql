-- The roles V010__rls_least_privilege.sql grants to, for this transaction.
-- $1 user role, $2 anon role, $3 webhook role.
SELECT set_config('credits.rls_user_role', $1, true),
       set_config('credits.rls_anon_role', $2, true),
       set_config('credits.rls_webhook_role', $3, true),
       set_config('credits.rls_dropped', '[]', true),
       set_config('credits.rls_revoked', '[]', true);
