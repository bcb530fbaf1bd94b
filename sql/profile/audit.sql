-- Records in the audit log that `credits install` rebuilt the adapter for a
-- changed app profile: the checksums before and after, and the new profile.
-- $1 operator, $2 reason, $3 new profile (JSON), $4 new checksum.
INSERT INTO credits_ops.repair_log (operator, reason, command, action, detail)
SELECT $1::text, $2::text, 'install', 'adapter_rebuilt',
       jsonb_build_object('checksum_before', p.checksum, 'checksum_after', $4::text,
                          'profile', $3::text::jsonb)
FROM credits_ops.app_profile p;
