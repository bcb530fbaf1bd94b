-- Is this database Supabase-shaped for `credits rls-fix`: do the roles it
-- probes and grants to exist, and is there an auth.uid() for policies?
-- $1 user role (authenticated), $2 anon role (anon), $3 webhook role (service_role).
SELECT to_regrole($1) IS NOT NULL AS user_role_exists,
       to_regrole($2) IS NOT NULL AS anon_role_exists,
       to_regrole($3) IS NOT NULL AS webhook_role_exists,
       to_regprocedure('auth.uid()') IS NOT NULL AS auth_uid_exists,
       to_regclass('public.stripe_webhook_event') IS NOT NULL AS webhook_events_exist;
