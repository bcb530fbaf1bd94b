-- Whether V019's kept facts can stand in for the tables: built, not
-- invalidated since (why, if so), and every marking trigger in place and
-- firing always (a trigger missing or disabled would leave changes
-- unmarked). Also how many marks wait for a refresh.
SELECT s.built_at,
       s.invalidated_why,
       (SELECT count(*) FROM credits_ops.kept_fact_change) AS pending_changes,
       (SELECT string_agg(format('%s on %s', w.tgname, a.relid), ', ' ORDER BY a.role, w.tgname)
        FROM credits_ops.app_tables() a
        CROSS JOIN unnest(ARRAY['credits_kept_facts', 'credits_kept_facts_update',
                                'credits_kept_facts_truncate']) AS w (tgname)
        WHERE a.role IN ('recharges', 'ledger', 'balances')
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                          WHERE t.tgrelid = a.relid AND t.tgname = w.tgname
                            AND t.tgenabled = 'A')) AS triggers_not_firing
FROM credits_ops.kept_facts_state s;
