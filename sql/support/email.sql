-- The user's email in Supabase's auth.users ($1: user id).
SELECT u.email FROM auth.users u WHERE u.id = $1;
