-- The packages a pause turned off, with their state now: name and is_active
-- are NULL for a package deleted since. $1 pause id.
SELECT i.package_id AS id, p.name::text AS name, p.credits::bigint AS credits, p.is_active
FROM credits_ops.package_pause_item i
LEFT JOIN credits_ops.app_package p ON p.id::text = i.package_id
WHERE i.pause_id = $1
ORDER BY p.credits, i.package_id;
