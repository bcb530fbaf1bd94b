-- Every credit package with its state, and whether the open pause (if any)
-- turned it off. Ids are compared as text, whatever their type in the app.
SELECT p.id::text          AS id,
       p.name::text        AS name,
       p.credits::bigint   AS credits,
       p.is_active,
       open_item.pause_id  AS open_pause_id
FROM credits_ops.app_package p
LEFT JOIN (
    SELECT i.pause_id, i.package_id
    FROM credits_ops.package_pause_item i
    JOIN credits_ops.package_pause o ON o.id = i.pause_id
    WHERE o.resumed_at IS NULL
) open_item ON open_item.package_id = p.id::text
ORDER BY p.credits, p.id::text;
