-- credits:no-transaction
-- credits:generated
-- credits:optional
-- credits:precondition preconditions/no_duplicate_credits.sql
-- One `recharge` transaction per recharge, enforced by the database: a
-- second one (a retried webhook, a second Checkout event, a repair) fails
-- with a unique violation, or is skipped by INSERT ... ON CONFLICT DO NOTHING
-- as in credits_ops.apply_recharge. Built CONCURRENTLY so the webhook keeps
-- writing meanwhile.
-- Where recharges already have several recharge transactions the index
-- cannot exist, and `credits install` leaves this migration pending and
-- lists them (the precondition above). It is optional: every command works
-- without it, because apply_recharge locks the recharge row and checks for
-- an existing credit, which serialises every caller that goes through it.
-- This file is a query returning the statement for this app's names (see
-- V004); an app without a recharge type value cannot hold one.
SELECT format('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS credits_one_recharge_credit ON %I.%I (%I) WHERE %I = %L',
              p.profile #>> '{roles,ledger,schema}', p.profile #>> '{roles,ledger,table}',
              p.profile #>> '{roles,ledger,columns,recharge_id,name}',
              p.profile #>> '{roles,ledger,columns,type,name}',
              p.profile #>> '{types,recharge}') AS ddl
FROM credits_ops.app_profile p;
