-- Records one applied migration. ON CONFLICT: a concurrent install that
-- recorded it first wins, and this row is not written twice.
INSERT INTO credits_ops.schema_history (version, name, checksum, applied_by, reason, execution_ms)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (version) DO NOTHING;
