-- The first statement of a read-only REPEATABLE READ transaction on a
-- second connection: from here on it reads what the exporting transaction
-- reads (sql/session/export_snapshot.sql). A statement cannot take it as a
-- parameter: src/db.rs puts the exported name in place of {snapshot},
-- after checking that it is one (hex digits and dashes).
SET TRANSACTION SNAPSHOT '{snapshot}';
