-- Whether credits has ever been installed in this database.
SELECT to_regclass('credits_ops.schema_history') IS NOT NULL AS installed;
