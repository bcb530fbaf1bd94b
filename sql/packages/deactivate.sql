-- Takes every active package off sale (through the adapter, so the app's
-- own names and types are used) and returns the ones it turned off.
WITH active AS MATERIALIZED (
    SELECT p.id, p.name, p.credits
    FROM credits_ops.app_package p
    WHERE p.is_active
    ORDER BY p.id
)
SELECT a.id, a.name, a.credits
FROM active a
WHERE credits_ops.set_package_active(a.id, false);
