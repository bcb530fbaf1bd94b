-- Puts back on sale the packages pause $1 took off sale and that are still
-- off; returns the ones it turned on.
WITH paused AS MATERIALIZED (
    SELECT i.package_id FROM credits_ops.package_pause_item i WHERE i.pause_id = $1 ORDER BY 1
)
SELECT p.package_id AS id
FROM paused p
WHERE credits_ops.set_package_active(p.package_id, true);
