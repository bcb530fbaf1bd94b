-- One audit row for `credits audit enable`, `disable` or `prune`.
-- $1 operator, $2 reason, $3 action (audit_enabled, audit_disabled,
-- audit_pruned), $4 detail (JSON text).
INSERT INTO credits_ops.repair_log (operator, reason, command, action, detail)
VALUES ($1, $2, 'audit', $3, $4::text::jsonb);
