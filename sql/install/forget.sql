-- `credits audit disable`: V014's history row goes with its triggers, so
-- `credits status` shows it not applied and `credits audit enable` records
-- it again. The audit log keeps both the enabling and the disabling.
-- $1 the migration's version.
DELETE FROM credits_ops.schema_history WHERE version = $1;
