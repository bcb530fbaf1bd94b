-- The user ids with this email in Supabase's auth.users (case-insensitive).
SELECT u.id AS user_id FROM auth.users u WHERE lower(u.email) = lower($1);
