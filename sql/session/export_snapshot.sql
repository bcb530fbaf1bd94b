-- The snapshot of this transaction, named for another connection to read
-- the database at the same instant (credits debug and health run the
-- checks that do not read the facts on a second connection, at once).
-- NULL on a standby: not asked there, since a failed statement would end
-- the transaction the report is read in (and a subtransaction cannot
-- export one); the checks then all run on one connection.
SELECT CASE WHEN NOT pg_is_in_recovery() THEN pg_export_snapshot() END AS snapshot;
