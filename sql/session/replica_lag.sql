-- Whether this server is a standby, and how far it is behind its primary,
-- in seconds: 0 while it streams from its primary and has replayed all it
-- received; otherwise the age of the last transaction it replayed (a
-- standby cut off from its primary falls further behind every second, even
-- when the primary is idle). NULL on a primary, or before any replay.
SELECT pg_is_in_recovery() AS standby,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8 AS lag_seconds;
