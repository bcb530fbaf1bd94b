-- The open pause (resumed_at IS NULL; at most one, by a unique index), with
-- how many packages it turned off. No row when sales are not paused.
SELECT o.id, o.paused_at, o.paused_by, o.reason, count(i.package_id) AS package_count
FROM credits_ops.package_pause o
LEFT JOIN credits_ops.package_pause_item i ON i.pause_id = o.id
WHERE o.resumed_at IS NULL
GROUP BY o.id;
