-- The tool's own schema and its migration history. Run by `credits install`
-- under the install lock before the first migration; safe to run again.
-- The schema is not `public`: nothing here is reachable through Supabase's
-- REST API, and no grant is given to PUBLIC, anon or authenticated.
CREATE SCHEMA IF NOT EXISTS credits_ops;
REVOKE ALL ON SCHEMA credits_ops FROM PUBLIC;

CREATE TABLE IF NOT EXISTS credits_ops.schema_history (
    version      integer     PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,  -- sha-256 of the file, line endings normalised to \n
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text        NOT NULL,  -- --operator
    reason       text,                  -- --reason
    execution_ms bigint      NOT NULL
);
REVOKE ALL ON credits_ops.schema_history FROM PUBLIC;
