-- The user ids with this email in the app's users table (credits_ops.app_user) (case-insensitive).
SELECT u.id AS user_id FROM credits_ops.app_user u WHERE lower(u.email) = lower($1);
