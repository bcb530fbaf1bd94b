-- Is this database Supabase-shaped for `credits rls-fix`: do the roles it
-- probes and grants to exist, and is there an auth.uid() (or auth.jwt())
-- for policies?
-- $1 user role (authenticated), $2 anon role (anon), $3 webhook role (service_role).
SELECT to_regrole($1) IS NOT NULL AS user_role_exists,
       to_regrole($2) IS NOT NULL AS anon_role_exists,
       to_regrole($3) IS NOT NULL AS webhook_role_exists,
       to_regprocedure('auth.uid()') IS NOT NULL AS auth_uid_exists,
       to_regprocedure('auth.jwt()') IS NOT NULL AS auth_jwt_exists,
       to_regclass('credits_ops.app_webhook_event') IS NOT NULL AS webhook_events_exist,
       -- Policies compare with auth.uid() where user ids are uuids of Supabase
       -- Auth; otherwise with the JWT's sub as text (auth.uid() would fail).
       (SELECT p.profile #>> '{roles,users,schema}' = 'auth'
               AND p.profile #>> '{roles,recharges,columns,user_id,type}' = 'uuid'
          FROM credits_ops.app_profile p) AS users_in_supabase_auth;
