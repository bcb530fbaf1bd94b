-- supabase.sql: the parts of Supabase's role and auth model that `credits`
-- cares about, for a plain PostgreSQL 15 cluster (tests, demo, benchmark).
--
-- Run as a superuser, before app_schema.sql, in the target database:
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/supabase.sql
--
-- Idempotent: safe to run twice in the same database, and in a new database of
-- a cluster where the roles already exist (roles are cluster-wide, databases
-- are created per test). Nothing here is Supabase's real code; it reproduces
-- the behaviour described in docs/credits-domain.md ("Supabase facts").

-- ---------------------------------------------------------------------------
-- Roles. PostgREST connects as `authenticator` and SET ROLEs to one of the
-- three API roles per request; only service_role bypasses RLS.
-- CREATE ROLE has no IF NOT EXISTS, hence the DO blocks. The exception
-- handlers cover two test databases being set up at the same moment.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- If a role pre-existed with other attributes, bring it to Supabase's shape.
-- Only ALTER when something differs, so a second run (or a run by a
-- non-superuser against already-correct roles) changes nothing.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')
                                      AND rolcanlogin) THEN
        ALTER ROLE anon NOLOGIN;
        ALTER ROLE authenticated NOLOGIN;
        ALTER ROLE service_role NOLOGIN;
    END IF;
    IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role') THEN
        ALTER ROLE service_role BYPASSRLS;
    END IF;
    IF NOT (SELECT rolcanlogin AND NOT rolinherit FROM pg_roles WHERE rolname = 'authenticator') THEN
        ALTER ROLE authenticator LOGIN NOINHERIT;
    END IF;
END $$;

-- authenticator may switch to each API role (SET ROLE needs membership).
-- Granting an existing membership again only raises a NOTICE, but the
-- check keeps the output quiet on the second run.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT pg_has_role('authenticator', r, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO authenticator', r);
            EXCEPTION WHEN unique_violation THEN NULL;  -- granted concurrently
            END;
        END IF;
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- Schema auth: the users table (reduced to what `credits` reads) and the JWT
-- helpers that RLS policies call.
-- ---------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.users (
    id    uuid PRIMARY KEY,
    email text UNIQUE
);

-- auth.uid(): the `sub` claim of the request's JWT, as PostgREST sets it.
-- Newer PostgREST puts all claims as JSON in request.jwt.claims; older ones
-- set request.jwt.claim.sub. On a direct connection neither is set, so this
-- returns NULL (current_setting(..., true) gives NULL or '' when unset).
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', ''),
        nullif(current_setting('request.jwt.claim.sub', true), '')
    )::uuid
$$;

-- auth.role() and auth.jwt(): also provided by Supabase and commonly used in
-- policies (e.g. `auth.role() = 'service_role'`), so policies written against
-- a real project also compile here.
CREATE OR REPLACE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', ''),
        nullif(current_setting('request.jwt.claim.role', true), '')
    )::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt()
    TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Supabase's default privileges on public: every table, sequence and function
-- created later in public (by the role running this file, e.g. app_schema.sql)
-- is fully granted to the API roles. This is what makes RLS the only thing
-- between a signed-in user and credit_transaction.
-- ---------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
