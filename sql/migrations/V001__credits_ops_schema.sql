-- credits_ops holds everything the credits tool installs. Keep it private:
-- Supabase exposes `public` through PostgREST and grants anon/authenticated
-- everything there by default, so nothing of ours lives in `public`.
COMMENT ON SCHEMA credits_ops IS
    'Objects of the credits CLI (migrations, audit). Not exposed through the REST API.';

DO $$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = api_role) THEN
            EXECUTE format('REVOKE ALL ON SCHEMA credits_ops FROM %I', api_role);
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA credits_ops FROM %I', api_role);
        END IF;
    END LOOP;
END
$$;
