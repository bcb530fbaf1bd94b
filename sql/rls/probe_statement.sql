-- The statement a probe of `credits rls-fix` runs on the app's own tables,
-- as generated for this app by the adapter (V002); read as the connecting
-- role before acting as the probed one. $1 its name (probe_read_ledger,
-- probe_update_balance, ledger_append, ...): NULL when the app has no such
-- table. Also the app's value for the recharge transaction type, which the
-- insert probe writes.
SELECT credits_ops.adapter_sql($1) AS statement,
       (SELECT p.profile #>> '{types,recharge}' FROM credits_ops.app_profile p) AS recharge_type;
