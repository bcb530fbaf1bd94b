-- The checksum of the app profile the last `credits install` built the
-- adapter from (run only when credits_ops.app_profile exists).
SELECT checksum FROM credits_ops.app_profile;
