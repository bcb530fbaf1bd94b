-- Whether a relation a check requires exists ($1: schema-qualified name).
SELECT to_regclass($1) IS NOT NULL AS present;
