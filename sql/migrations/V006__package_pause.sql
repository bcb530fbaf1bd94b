-- Pausing sales during an incident, and the audit log of every change the
-- tool makes.
--
-- The runbook's emergency step
--     UPDATE credit_package SET is_active = false WHERE is_active = true
-- forgets which packages were on sale, so turning sales back on also
-- re-activates packages that were retired on purpose. `credits
-- pause-packages` records each pause and exactly the packages it turned off;
-- `credits resume-packages` turns on exactly those again and closes the pause.

-- One row per pause; open while resumed_at is NULL.
CREATE TABLE credits_ops.package_pause (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    paused_at     timestamptz NOT NULL DEFAULT now(),
    paused_by     text        NOT NULL,  -- --operator
    reason        text,                  -- --reason
    resumed_at    timestamptz,
    resumed_by    text,
    resume_reason text,
    CONSTRAINT package_pause_resumed_by_whom
        CHECK ((resumed_at IS NULL) = (resumed_by IS NULL))
);

-- At most one open pause at a time, guaranteed by the database: of two
-- pauses started at once, the second one's INSERT waits for the first and
-- then conflicts.
CREATE UNIQUE INDEX package_pause_one_open
    ON credits_ops.package_pause ((true))
    WHERE resumed_at IS NULL;

-- The packages a pause turned off. package_id is the package's id as text:
-- apps use uuid, integer or text ids, and credits compares them as id::text.
CREATE TABLE credits_ops.package_pause_item (
    pause_id   bigint NOT NULL REFERENCES credits_ops.package_pause (id),
    package_id text   NOT NULL,
    PRIMARY KEY (pause_id, package_id)
);

-- The audit log of the whole tool: one row per change (a package paused or
-- resumed, a recharge repaired, ...), with who, when, why, the command, and
-- before/after where a balance is involved. Columns that do not apply to a
-- change are NULL; detail holds the rest.
CREATE TABLE credits_ops.repair_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logged_at      timestamptz NOT NULL DEFAULT now(),
    operator       text        NOT NULL,  -- --operator
    reason         text,                  -- --reason
    command        text        NOT NULL,  -- the subcommand, e.g. pause-packages
    recharge_id    text,                  -- the app's id, as text
    user_id        text,
    action         text        NOT NULL,  -- e.g. pause_package, resume_package
    credits_delta  bigint,
    balance_before bigint,
    balance_after  bigint,
    detail         jsonb
);

REVOKE ALL ON credits_ops.package_pause FROM PUBLIC;
REVOKE ALL ON credits_ops.package_pause_item FROM PUBLIC;
REVOKE ALL ON credits_ops.repair_log FROM PUBLIC;

-- Turns one package on or off through the adapter (V002), as the app's
-- names and types require. True when it changed.
CREATE FUNCTION credits_ops.set_package_active(p_id text, p_active boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_changed integer;
BEGIN
    EXECUTE credits_ops.adapter_sql('package_set_active') USING p_id, p_active;
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    RETURN v_changed > 0;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.set_package_active(text, boolean) FROM PUBLIC;
