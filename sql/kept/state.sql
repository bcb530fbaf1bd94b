-- Whether V019's kept facts can stand in for the tables: built, not
-- invalidated since (why, if so), no app table truncated or stripped of a
-- column the triggers read since (a mark of kind 't'), and every marking trigger in place, firing always and reading
-- columns that exist (a column the app renamed reads as NULL: its changes
-- would go unmarked). Also how many marks wait for a refresh.
SELECT s.built_at,
       s.invalidated_why,
       (SELECT string_agg(DISTINCT c.key, '; ')
        FROM credits_ops.kept_fact_change c WHERE c.kind = 't') AS truncated,
       (SELECT count(*) FROM credits_ops.kept_fact_change c WHERE c.kind <> 't') AS pending_changes,
       (SELECT string_agg(format('%s on %s', w.tgname, a.relid), ', ' ORDER BY a.role, w.tgname)
        FROM credits_ops.app_tables() a
        CROSS JOIN unnest(ARRAY['credits_kept_facts', 'credits_kept_facts_truncate']) AS w (tgname)
        WHERE a.role IN ('recharges', 'ledger', 'balances')
          AND NOT EXISTS (
              SELECT FROM pg_catalog.pg_trigger t
              WHERE t.tgrelid = a.relid AND t.tgname = w.tgname AND t.tgenabled = 'A'
                AND NOT EXISTS (
                    SELECT FROM unnest(string_to_array(rtrim(encode(t.tgargs, 'escape'), '\000'), '\000')) AS arg (name)
                    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute att
                                      WHERE att.attrelid = a.relid AND att.attname = arg.name
                                        AND att.attnum > 0 AND NOT att.attisdropped)))
       ) AS triggers_not_firing
FROM credits_ops.kept_facts_state s;
