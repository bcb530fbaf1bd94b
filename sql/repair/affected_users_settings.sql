-- Run before sql/repair/affected_users.sql, in its read-only snapshot. That
-- statement reads whole tables, and at 10M recharges the planner summed
-- each user's ledger by walking the (user_id) index in order: a random read
-- of every one of ten million ledger rows, most of the 50 s the plan took.
-- Without plain index scans (bitmap and index-only scans stay) it hashes or
-- sorts them instead: 36 s. At 1M it already did, and nothing changes.
-- Transaction-local, like every setting of the tool's.
SELECT set_config('enable_indexscan', 'off', true);
