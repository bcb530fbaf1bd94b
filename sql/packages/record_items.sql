-- Records which packages a pause turned off. $1 pause id, $2 package ids (text[]).
INSERT INTO credits_ops.package_pause_item (pause_id, package_id)
SELECT $1::bigint, package_id
FROM unnest($2::text[]) AS package_id;
