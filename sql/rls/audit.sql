-- One audit row for an `rls-fix` run. $1 operator, $2 reason, $3 detail (JSON text).
INSERT INTO credits_ops.repair_log (operator, reason, command, action, detail)
VALUES ($1, $2, 'rls-fix', 'rls_fix', $3::text::jsonb);
