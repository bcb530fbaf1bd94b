-- The last user of the next page of bulk-fix's plan
-- (sql/repair/affected_users.sql), after user $1 (from the first when $1
-- is NULL): where the kept recharge facts or the kept user facts after $1,
-- whichever comes first, reach $2 rows (of any age: the window is the
-- page's to apply), each read from its index by user (V029, V019). A page
-- then reads at most about $2 of each (all of its last user's). NULL when
-- neither has $2 rows left: the users after $1 are the last page.
SELECT least(
    (SELECT f.user_id FROM credits_ops.kept_recharge_fact f
     WHERE f.user_id > $1 OR $1 IS NULL
     ORDER BY f.user_id OFFSET $2::bigint - 1 LIMIT 1),
    (SELECT u.user_id FROM credits_ops.kept_user_fact u
     WHERE u.user_id > $1 OR $1 IS NULL
     ORDER BY u.user_id OFFSET $2::bigint - 1 LIMIT 1)
) AS user_id;
