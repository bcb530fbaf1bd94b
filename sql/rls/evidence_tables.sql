-- Whether the app profile names any evidence table of the app's own.
SELECT EXISTS (SELECT FROM credits_ops.app_tables() a WHERE a.role = 'evidence') AS present;
