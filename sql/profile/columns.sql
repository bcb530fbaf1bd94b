-- Every column of every ordinary or partitioned table the app could keep its
-- credits data in: what `credits` needs to work out the app profile (which
-- table plays which role, the type of each id, enum values, NOT NULL columns
-- without a default, unique and foreign keys). Read from pg_catalog, not
-- information_schema, which hides columns the connected role cannot read.
-- The tool's own schemas and PostgreSQL's are left out.
SELECT n.nspname::text AS table_schema,
       c.relname::text AS table_name,
       a.attname::text AS column_name,
       format_type(a.atttypid, a.atttypmod) AS sql_type,
       CASE WHEN t.typtype = 'e'
            THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                       WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
       END AS enum_labels,
       a.attnotnull AS not_null,
       (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default,
       EXISTS (SELECT FROM pg_index i
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                 AND i.indnatts = 1 AND i.indkey[0] = a.attnum
                 AND i.indpred IS NULL) AS unique_alone,
       fk.ref_schema,
       fk.ref_table,
       fk.ref_column
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN LATERAL (
    SELECT rn.nspname::text AS ref_schema, rc.relname::text AS ref_table, ra.attname::text AS ref_column
    FROM pg_constraint k
    JOIN pg_class rc ON rc.oid = k.confrelid
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
    WHERE k.conrelid = c.oid AND k.contype = 'f'
      AND array_length(k.conkey, 1) = 1 AND k.conkey[1] = a.attnum
    LIMIT 1
) fk ON true
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'credits_ops', 'credits_demo')
  AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, c.relname, a.attnum;
