-- credits:no-transaction
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
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS credits_one_recharge_credit
    ON public.credit_transaction (related_recharge_id)
    WHERE type = 'recharge';
