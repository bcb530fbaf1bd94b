-- Memory for the read-only snapshots (debug, health, support, log, the
-- bulk-fix plan): their hash joins and aggregates over the whole ledger
-- spill to disk at a million rows with the default work_mem (4MB), and the
-- planner then sorts the ledger through an index instead (the bulk-fix plan
-- took 4.3 s at 1M, 3.5 s with this). One session, one transaction
-- (set_config(..., true)), so a pooler never hands it to another client.
-- No JIT: its compile time outweighed what it saved (measured). No parallel
-- workers: debug and health already run on two connections at once, and
-- the server's cores are the live app's too; at 1M recharges on two cores,
-- workers on top made health 1.00 s instead of 0.85 (medians of five),
-- debug 1.25 s instead of 1.07, and debug --rescan 6.3 s instead of 6.0.
SELECT set_config('work_mem', '64MB', true),
       set_config('jit', 'off', true),
       set_config('max_parallel_workers_per_gather', '0', true);
