-- Where bulk-fix's next planning slice ends: the id of the $2-th user
-- (bigint) after $1 (text; NULL: from the first) among the balance rows, in
-- the order of V004's index; no row when fewer are left (the last slice
-- runs to the end). Users without a balance row fall in the slice whose
-- range holds their id.
SELECT b.user_id AS upto
FROM credits_ops.app_balance b
WHERE $1::text IS NULL OR b.user_id > $1::text
ORDER BY b.user_id
OFFSET $2::bigint - 1
LIMIT 1;
