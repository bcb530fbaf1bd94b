-- The policies V010__rls_least_privilege.sql dropped in this transaction (JSON list).
SELECT coalesce(nullif(current_setting('credits.rls_dropped', true), ''), '[]') AS dropped;
