-- The user's email in the app's users table (credits_ops.app_user) ($1: user id).
SELECT u.email FROM credits_ops.app_user u WHERE u.id = $1;
