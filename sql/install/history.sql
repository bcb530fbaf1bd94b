-- The migrations applied so far, oldest first.
SELECT version, name, checksum, applied_at, applied_by, reason, execution_ms
FROM credits_ops.schema_history
ORDER BY version;
