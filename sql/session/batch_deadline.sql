-- The deadline of one repair batch of several items (users or recharges),
-- for its transaction only: statement_timeout at --max-transaction. A batch
-- is one statement, so it never holds its row locks longer than that,
-- whatever slows the server down; the batch sizer aims at half of it from
-- the batches before, and cannot see a stall coming. A batch cancelled at
-- the deadline is rolled back whole (its audit rows with it) and redone in
-- halves; a batch of one item has no deadline but the session's.
-- $1: the deadline in milliseconds.
SELECT set_config('statement_timeout', $1::text, true);
