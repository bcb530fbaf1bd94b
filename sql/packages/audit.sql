-- One credits_ops.repair_log row per package a pause or a resume changed.
-- $1 operator, $2 reason, $3 command, $4 action (pause_package or
-- resume_package), $5 pause id, $6 the ids of the packages changed (text[]).
INSERT INTO credits_ops.repair_log (operator, reason, command, action, detail)
SELECT $1::text, $2::text, $3::text, $4::text,
       jsonb_build_object('package_id', package_id, 'pause_id', $5::bigint)
FROM unnest($6::text[]) AS package_id;
