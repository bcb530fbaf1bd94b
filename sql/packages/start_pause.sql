-- Opens a pause. Returns no row when a pause is already open: the unique
-- index package_pause_one_open makes a concurrent second pause wait for the
-- first and then conflict, so two pauses are never open at once.
-- $1 paused_by (--operator), $2 reason (--reason).
INSERT INTO credits_ops.package_pause (paused_by, reason)
VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING id;
