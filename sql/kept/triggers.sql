-- Makes V019's marking triggers anew on the app profile's tables (a
-- trigger dropped or disabled by hand is back, firing always), before the
-- kept facts are built. Run alone: creating a trigger waits for the app's
-- open transactions on that table, briefly, and its transaction commits
-- before the build takes its snapshot.
SELECT credits_ops.build_kept_fact_triggers();
