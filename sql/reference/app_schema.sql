-- app_schema.sql: the credits application's tables as a typical Supabase app
-- creates them, in the broken state the incident starts from.
--
-- Run after supabase.sql, as the same role, in a fresh database:
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/supabase.sql
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/app_schema.sql
--
-- Deliberately left as the app shipped it (this is what `credits` must find
-- and fix, see docs/credits-domain.md):
--   * RLS is OFF on every table, and Supabase's default privileges (set by
--     supabase.sql) grant ALL on them to anon and authenticated;
--   * there is NO unique index on credit_transaction(related_recharge_id), so
--     nothing stops a recharge from being credited twice;
--   * the three webhook writes (recharge status, transaction, balance) are
--     not tied together by anything in the schema.
-- Only the plain indexes a typical app has are created.
-- Not idempotent: it is meant for a freshly created database.

-- Credit packages sold through Stripe Checkout.
CREATE TABLE public.credit_package (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    credits     int  NOT NULL,
    price_cents int,
    is_active   bool NOT NULL DEFAULT true
);

-- One row per checkout; amount is the number of credits to grant.
CREATE TABLE public.credit_recharge (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES auth.users (id),
    package_id        uuid REFERENCES public.credit_package (id),
    amount            int  NOT NULL CHECK (amount > 0),
    status            text NOT NULL DEFAULT 'pending',
    payment_intent_id text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz
);

-- The ledger: + grants, - spending. user_id has no foreign key (the app
-- wrote it from the webhook payload and never added one).
CREATE TABLE public.credit_transaction (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL,
    amount              int  NOT NULL,
    type                text NOT NULL,
    related_recharge_id uuid REFERENCES public.credit_recharge (id),
    description         text,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- Denormalised running balance, updated by the app beside each transaction.
CREATE TABLE public.user_credit_balance (
    user_id    uuid PRIMARY KEY,
    balance    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz
);

-- What the webhook handler received from Stripe and what became of it.
CREATE TABLE public.stripe_webhook_event (
    id                text PRIMARY KEY,           -- Stripe event id, evt_...
    type              text NOT NULL,
    payment_intent_id text,
    payload           jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'received',
    error             text,
    received_at       timestamptz NOT NULL DEFAULT now()
);

-- The usual "lookups by user" indexes; nothing on related_recharge_id.
CREATE INDEX credit_recharge_user_id_idx    ON public.credit_recharge (user_id);
CREATE INDEX credit_transaction_user_id_idx ON public.credit_transaction (user_id);

-- Supabase Stripe Sync Engine mirror of Stripe's PaymentIntents (only the
-- columns `credits` reads). `created` is Stripe's unix timestamp in seconds.
CREATE SCHEMA stripe;

CREATE TABLE stripe.payment_intents (
    id       text PRIMARY KEY,                    -- pi_...
    amount   bigint,                              -- in the currency's minor unit
    currency text,
    status   text,                                -- Stripe's status, e.g. succeeded
    created  bigint,
    metadata jsonb
);

-- The catalogue. Fixed ids so the incident generator and tests can refer to
-- them. 'Legacy 50' was retired on purpose; old recharges may still point to it.
INSERT INTO public.credit_package (id, name, credits, price_cents, is_active) VALUES
    ('00000000-0000-4000-8000-000000000001', 'Starter',    100,   999, true),
    ('00000000-0000-4000-8000-000000000002', 'Pro',        500,  3999, true),
    ('00000000-0000-4000-8000-000000000003', 'Team',      2000, 12999, true),
    ('00000000-0000-4000-8000-000000000004', 'Legacy 50',   50,   499, false);
