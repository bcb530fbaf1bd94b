-- Closes pause $1 if it is still open, locking its row: of two resumes
-- started at once, the second waits, then finds it closed and returns no row.
-- $2 resumed_by (--operator), $3 resume_reason (--reason).
UPDATE credits_ops.package_pause
SET resumed_at = now(), resumed_by = $2, resume_reason = $3
WHERE id = $1 AND resumed_at IS NULL
RETURNING id;
