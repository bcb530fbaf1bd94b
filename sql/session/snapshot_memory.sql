-- Memory for the read-only snapshots (debug, health, support, log, the
-- bulk-fix plan): their hash joins and aggregates over the whole ledger
-- spill to disk at a million rows with the default work_mem (4MB), and the
-- planner then sorts the ledger through an index instead (the bulk-fix plan
-- took 4.3 s at 1M, 3.5 s with this). One session, one transaction
-- (set_config(..., true)), so a pooler never hands it to another client.
-- No JIT: its compile time outweighed what it saved (measured).
SELECT set_config('work_mem', '64MB', true),
       set_config('jit', 'off', true);
