-- The packages on sale now: what `credits pause-packages` would turn off.
SELECT p.id::text AS id, p.name::text AS name, p.credits::bigint AS credits
FROM credits_ops.app_package p
WHERE p.is_active
ORDER BY p.credits, p.id::text;
