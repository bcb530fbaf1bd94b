-- The last user of the next page of bulk-fix's plan
-- (sql/repair/affected_users.sql): the user of the $2-th kept recharge fact
-- after user $1 (from the first when $1 is NULL), read from V029's index, so
-- a page reads about $2 kept recharge facts (all of its last user's). No
-- row, or a NULL: the users after $1 are the last page.
SELECT f.user_id
FROM credits_ops.kept_recharge_fact f
WHERE f.user_id > $1 OR $1 IS NULL
ORDER BY f.user_id
OFFSET $2::bigint - 1
LIMIT 1;
