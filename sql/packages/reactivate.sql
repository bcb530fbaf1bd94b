-- Puts back on sale exactly the packages pause $1 turned off that are still
-- inactive; a package re-activated by hand meanwhile is left as it is, and
-- every package the pause did not turn off is never touched.
-- Returns the ids it changed.
UPDATE public.credit_package p
SET is_active = true
WHERE NOT p.is_active
  AND p.id::text IN (SELECT i.package_id
                     FROM credits_ops.package_pause_item i
                     WHERE i.pause_id = $1)
RETURNING p.id::text AS id;
