-- shapes/serial.sql: a credits app with bigint identity ids, text statuses
-- guarded by CHECK constraints, users in public.profiles, and a small planted
-- incident. A "kind" app: foreign keys, indexes on every user_id and on the
-- columns lookups use, a stripe_webhook_event log as in app_schema.sql.
-- This app spells a completed recharge 'paid'; its spending type is 'spend'.
--
-- Run as a superuser after supabase.sql, in a fresh database:
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/supabase.sql
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/shapes/serial.sql
--
-- Every id is GENERATED ALWAYS AS IDENTITY: a writer omits it (or says
-- OVERRIDING SYSTEM VALUE). The fixture inserts fixed ids that way, then
-- moves each identity sequence past them, so later inserts do not collide.
--
-- Deliberately left as the app shipped it (see docs/credits-domain.md):
--   * RLS is OFF; Supabase's default privileges grant ALL on every table (and
--     identity sequence) here to anon and authenticated;
--   * credit_transaction(related_recharge_id) has an index, but not a UNIQUE
--     one: a recharge can still be credited twice.
--
-- Planted incident (truth in credits_fixture.expected_finding; ids are fixed):
--   1 alice  healthy: recharges 1001, 1002 paid; 1003 refunded with its refund
--            transaction; one spend
--   2 bob    MISSING_TRANSACTION 1005: paid, never credited; plus 1006 canceled
--   3 carol  FAILED_PAID 1008: failed; checkout.session.completed with
--            payment_status 'paid' is stored (event status 'failed')
--   4 dave   FAILED_UNVERIFIED 1009: failed; only payment_intent.payment_failed
--   5 erin   STUCK_PENDING 1011: pending for 5 h, no event; 1012 is 10 minutes
--            old, not a finding
--   6 frank  DUPLICATE_CREDIT 1013: credited by checkout.session.completed and
--            again by payment_intent.succeeded
--   7 grace  BALANCE_DRIFT: balance row missed her last spend
--   8 heidi  MISSING_BALANCE_ROW: welcome adjustment + recharge 1015, no row
--   9 ivan   signed up, never bought anything: no finding
-- Timestamps are relative to now(); everything else is literal.
-- Not idempotent: it is meant for a freshly created database.

-- ---------------------------------------------------------------------------
-- Schema.
-- ---------------------------------------------------------------------------
CREATE TABLE public.profiles (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email        text NOT NULL UNIQUE,
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.credit_package (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    credits     int  NOT NULL CHECK (credits > 0),
    price_cents int  NOT NULL,
    is_active   bool NOT NULL DEFAULT true
);

-- One row per checkout; amount is the number of credits to grant.
CREATE TABLE public.credit_recharge (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES public.profiles (id),
    package_id        bigint REFERENCES public.credit_package (id),
    amount            int  NOT NULL CHECK (amount > 0),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'paid', 'failed', 'canceled', 'refunded')),
    payment_intent_id text,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- The ledger: + grants, - spending.
CREATE TABLE public.credit_transaction (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES public.profiles (id),
    amount              int  NOT NULL,
    type                text NOT NULL
                        CHECK (type IN ('recharge', 'spend', 'refund', 'adjustment')),
    related_recharge_id bigint REFERENCES public.credit_recharge (id),
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.user_credit_balance (
    user_id bigint PRIMARY KEY REFERENCES public.profiles (id),
    balance bigint NOT NULL DEFAULT 0
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

CREATE INDEX credit_recharge_user_id_idx                ON public.credit_recharge (user_id);
CREATE INDEX credit_recharge_payment_intent_id_idx      ON public.credit_recharge (payment_intent_id);
CREATE INDEX credit_transaction_user_id_idx             ON public.credit_transaction (user_id);
CREATE INDEX credit_transaction_related_recharge_id_idx ON public.credit_transaction (related_recharge_id);
CREATE INDEX stripe_webhook_event_payment_intent_id_idx ON public.stripe_webhook_event (payment_intent_id);

-- ---------------------------------------------------------------------------
-- Data.
-- ---------------------------------------------------------------------------
INSERT INTO public.credit_package (id, name, credits, price_cents, is_active)
OVERRIDING SYSTEM VALUE VALUES
    (1, 'Starter',   100,  999, true),
    (2, 'Pro',       500, 3999, true),
    (3, 'Legacy 50',  50,  499, false);

INSERT INTO public.profiles (id, email, display_name, created_at)
OVERRIDING SYSTEM VALUE
SELECT id, email, display_name, now() - age
FROM (VALUES
    (1, 'alice@serial.test', 'Alice', interval '30 days'),
    (2, 'bob@serial.test',   'Bob',   interval '29 days'),
    (3, 'carol@serial.test', 'Carol', interval '28 days'),
    (4, 'dave@serial.test',  NULL,    interval '20 days'),
    (5, 'erin@serial.test',  'Erin',  interval '15 days'),
    (6, 'frank@serial.test', 'Frank', interval '14 days'),
    (7, 'grace@serial.test', 'Grace', interval '12 days'),
    (8, 'heidi@serial.test', 'Heidi', interval '7 days'),
    (9, 'ivan@serial.test',  NULL,    interval '2 days')
) AS p (id, email, display_name, age);

INSERT INTO public.credit_recharge (id, user_id, package_id, amount, status, payment_intent_id, created_at)
OVERRIDING SYSTEM VALUE
SELECT id, user_id, package_id, amount, status, pi, now() - age
FROM (VALUES
    (1001, 1, 1, 100, 'paid',     'pi_3JOv1z6q7aNsSGmUd0Uhn25Z', interval '6 days'),
    (1002, 1, 2, 500, 'paid',     'pi_3JQgxe83jDMGPlHC91HSfX8p', interval '3 days'),
    (1003, 1, 1, 100, 'refunded', 'pi_3qLJ6tD5Vi3WCNS2MJ0V6mCF', interval '5 days'),
    (1004, 2, 1, 100, 'paid',     'pi_3kcPAW0oMWighhKfgqkKf7ai', interval '4 days'),
    (1005, 2, 2, 500, 'paid',     'pi_3fqaXVVkW9NvsefjcQMciv9c', interval '1 day'),  -- MISSING_TRANSACTION
    (1006, 2, 2, 500, 'canceled', NULL,                          interval '3 days'),  -- checkout expired
    (1007, 3, 1, 100, 'paid',     'pi_3QjJATC4OsqrYpNm0jyW458r', interval '5 days'),
    (1008, 3, 2, 500, 'failed',   'pi_327qOj0hjO6N4i647kbic54w', interval '2 days'),  -- FAILED_PAID
    (1009, 4, 1, 100, 'failed',   'pi_3Ap7xnibvH2TfjNCbLJUCw3e', interval '3 days'),  -- FAILED_UNVERIFIED
    (1010, 5, 1, 100, 'paid',     'pi_3oF69SY85FwbXg0ElYVERlMG', interval '2 days'),
    (1011, 5, 2, 500, 'pending',  'pi_3KANLTRmPMF1xwkJpCgxI8ZI', interval '5 hours'),  -- STUCK_PENDING
    (1012, 5, 1, 100, 'pending',  NULL,                          interval '10 minutes'),  -- fresh, not a finding
    (1013, 6, 2, 500, 'paid',     'pi_3a0vCPiGTnKgkUHcK5C85xY7', interval '4 days'),  -- DUPLICATE_CREDIT
    (1014, 7, 2, 500, 'paid',     'pi_3ciNGdztkq5ItYgZrSF8Vls1', interval '5 days'),
    (1015, 8, 1, 100, 'paid',     'pi_3v9tL6p3mgW3kGTLdqUgessE', interval '2 days')
) AS r (id, user_id, package_id, amount, status, pi, age);

INSERT INTO public.credit_transaction (id, user_id, amount, type, related_recharge_id, created_at)
OVERRIDING SYSTEM VALUE
SELECT id, user_id, amount, type, rid, now() - age
FROM (VALUES
    (5001, 1,  100, 'recharge',   1001, interval '6 days' - interval '20 seconds'),
    (5002, 1,  100, 'recharge',   1003, interval '5 days' - interval '20 seconds'),
    (5003, 1, -100, 'refund',     1003, interval '4 days'),
    (5004, 1,  500, 'recharge',   1002, interval '3 days' - interval '20 seconds'),
    (5005, 1,  -30, 'spend',      NULL, interval '2 days'),
    (5006, 2,  100, 'recharge',   1004, interval '4 days' - interval '20 seconds'),
    (5007, 3,  100, 'recharge',   1007, interval '5 days' - interval '20 seconds'),
    (5008, 3,  -20, 'spend',      NULL, interval '1 day'),
    (5009, 5,  100, 'recharge',   1010, interval '2 days' - interval '20 seconds'),
    (5010, 6,  500, 'recharge',   1013, interval '4 days' - interval '20 seconds'),
    (5011, 6,  500, 'recharge',   1013, interval '4 days' - interval '21 seconds'),
    (5012, 7,  500, 'recharge',   1014, interval '5 days' - interval '20 seconds'),
    (5013, 7,  -50, 'spend',      NULL, interval '3 days'),
    (5014, 7,  -25, 'spend',      NULL, interval '1 day'),
    (5015, 8,   50, 'adjustment', NULL, interval '7 days'),
    (5016, 8,  100, 'recharge',   1015, interval '2 days' - interval '20 seconds')
) AS t (id, user_id, amount, type, rid, age);

-- grace (7): ledger 425, row 450; heidi (8): no row (ledger 150);
-- dave (4) and ivan (9) have no transactions.
INSERT INTO public.user_credit_balance (user_id, balance) VALUES
    (1, 570), (2, 100), (3, 80), (5, 100), (6, 1000), (7, 450);

-- Stripe events. obj is the checkout session / charge id; st is the payment
-- intent's status or the session's payment_status; cents is the price.
INSERT INTO public.stripe_webhook_event
    (id, type, payment_intent_id, payload, status, error, received_at)
SELECT e.id, e.type, e.pi,
       jsonb_build_object('id', e.id, 'object', 'event', 'type', e.type, 'livemode', true,
           'data', jsonb_build_object('object', CASE
               WHEN e.type LIKE 'checkout.session.%' THEN jsonb_build_object(
                   'id', e.obj, 'object', 'checkout.session', 'payment_intent', e.pi,
                   'payment_status', e.st, 'amount_total', e.cents, 'currency', 'usd',
                   'metadata', jsonb_build_object('recharge_id', e.rid::text))
               WHEN e.type = 'charge.refunded' THEN jsonb_build_object(
                   'id', e.obj, 'object', 'charge', 'payment_intent', e.pi,
                   'amount', e.cents, 'amount_refunded', e.cents, 'refunded', true)
               ELSE jsonb_build_object(
                   'id', e.pi, 'object', 'payment_intent', 'status', e.st,
                   'amount', e.cents, 'currency', 'usd',
                   'metadata', jsonb_build_object('recharge_id', e.rid::text))
           END)),
       e.status,
       CASE WHEN e.status = 'failed' THEN
           'new row violates row-level security policy for table "credit_transaction"' END,
       now() - e.age
FROM (VALUES
    ('evt_1HcnVv0uGB7a3lcKnmI6YF18', 'payment_intent.succeeded',      'pi_3JOv1z6q7aNsSGmUd0Uhn25Z', NULL,                                 'succeeded',                999, 1001, 'processed', interval '6 days' - interval '15 seconds'),
    ('evt_1OR4rozFqZOd5rUXgmkoc2t8', 'payment_intent.succeeded',      'pi_3qLJ6tD5Vi3WCNS2MJ0V6mCF', NULL,                                 'succeeded',                999, 1003, 'processed', interval '5 days' - interval '15 seconds'),
    ('evt_1aYdgPSthcPdbzAxA9cAXdon', 'charge.refunded',               'pi_3qLJ6tD5Vi3WCNS2MJ0V6mCF', 'ch_3dCVlVAfRubJGcamOAO7XIC7',        NULL,                       999, 1003, 'processed', interval '4 days'),
    ('evt_1EwqJCHjgbabyKfqQENNkZe3', 'payment_intent.succeeded',      'pi_3JQgxe83jDMGPlHC91HSfX8p', NULL,                                 'succeeded',               3999, 1002, 'processed', interval '3 days' - interval '15 seconds'),
    ('evt_1bLalBWdRT4ZRsYnfSbjLvWF', 'payment_intent.succeeded',      'pi_3kcPAW0oMWighhKfgqkKf7ai', NULL,                                 'succeeded',                999, 1004, 'processed', interval '4 days' - interval '15 seconds'),
    ('evt_1caRPgtBsN5LNQdMLuc0VMyu', 'payment_intent.succeeded',      'pi_3fqaXVVkW9NvsefjcQMciv9c', NULL,                                 'succeeded',               3999, 1005, 'failed',    interval '1 day' - interval '15 seconds'),
    ('evt_1OTHqzIeRBIz1ejhlieFM55b', 'payment_intent.succeeded',      'pi_3QjJATC4OsqrYpNm0jyW458r', NULL,                                 'succeeded',                999, 1007, 'processed', interval '5 days' - interval '15 seconds'),
    ('evt_1qFBYQKIf8LNy8qD3xUfi1rh', 'checkout.session.completed',    'pi_327qOj0hjO6N4i647kbic54w', 'cs_live_a1Oqd69tvF2KSjYql1PBhQoihs', 'paid',                    3999, 1008, 'failed',    interval '2 days' - interval '15 seconds'),
    ('evt_1KI4jcFa8LnHrRisl6OZpMFD', 'payment_intent.payment_failed', 'pi_3Ap7xnibvH2TfjNCbLJUCw3e', NULL,                                 'requires_payment_method',  999, 1009, 'processed', interval '3 days' - interval '15 seconds'),
    ('evt_1vOeLsS7BWI1FkK8GQEmxf8j', 'payment_intent.succeeded',      'pi_3oF69SY85FwbXg0ElYVERlMG', NULL,                                 'succeeded',                999, 1010, 'processed', interval '2 days' - interval '15 seconds'),
    ('evt_1lhhvMbpwYOY4jxtGuoykjbU', 'checkout.session.completed',    'pi_3a0vCPiGTnKgkUHcK5C85xY7', 'cs_live_a18fzNi5bb6uGqrA8Clm77SSEx', 'paid',                    3999, 1013, 'processed', interval '4 days' - interval '15 seconds'),
    ('evt_1ZPX3nKOjrGAxtdjc5LQPPcF', 'payment_intent.succeeded',      'pi_3a0vCPiGTnKgkUHcK5C85xY7', NULL,                                 'succeeded',               3999, 1013, 'processed', interval '4 days' - interval '16 seconds'),
    ('evt_1NmJCYhyTSLAP13pvFRx1JQC', 'payment_intent.succeeded',      'pi_3ciNGdztkq5ItYgZrSF8Vls1', NULL,                                 'succeeded',               3999, 1014, 'processed', interval '5 days' - interval '15 seconds'),
    ('evt_1MPqM98iOmegZ3RZHs1CRre4', 'payment_intent.succeeded',      'pi_3v9tL6p3mgW3kGTLdqUgessE', NULL,                                 'succeeded',                999, 1015, 'processed', interval '2 days' - interval '15 seconds')
) AS e (id, type, pi, obj, st, cents, rid, status, age);

-- Move every identity past the fixed ids, so the app (and `credits`) can insert.
ALTER TABLE public.profiles           ALTER COLUMN id RESTART WITH 10;
ALTER TABLE public.credit_package     ALTER COLUMN id RESTART WITH 4;
ALTER TABLE public.credit_recharge    ALTER COLUMN id RESTART WITH 1016;
ALTER TABLE public.credit_transaction ALTER COLUMN id RESTART WITH 5017;

-- ---------------------------------------------------------------------------
-- The truth: what a correct diagnosis reports. Not part of the app.
-- Ids are stored as text, like the other shapes.
-- ---------------------------------------------------------------------------
CREATE SCHEMA credits_fixture;

CREATE TABLE credits_fixture.shape (name text);
INSERT INTO credits_fixture.shape VALUES ('serial');

CREATE TABLE credits_fixture.expected_finding (
    kind        text NOT NULL,
    recharge_id text,               -- NULL for per-user findings
    user_id     text NOT NULL,
    email       text NOT NULL
);

-- Read back from the tables, so ids and emails cannot disagree with the data.
INSERT INTO credits_fixture.expected_finding (kind, recharge_id, user_id, email)
SELECT f.kind, r.id::text, p.id::text, p.email
FROM (VALUES
    ('MISSING_TRANSACTION', 1005, 'bob@serial.test'),
    ('FAILED_PAID',         1008, 'carol@serial.test'),
    ('FAILED_UNVERIFIED',   1009, 'dave@serial.test'),
    ('STUCK_PENDING',       1011, 'erin@serial.test'),
    ('DUPLICATE_CREDIT',    1013, 'frank@serial.test'),
    ('BALANCE_DRIFT',       NULL, 'grace@serial.test'),
    ('MISSING_BALANCE_ROW', NULL, 'heidi@serial.test')
) AS f (kind, recharge_id, email)
JOIN public.profiles p ON p.email = f.email
LEFT JOIN public.credit_recharge r ON r.id = f.recharge_id AND r.user_id = p.id;
