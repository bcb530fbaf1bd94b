-- shapes/prisma.sql: a Prisma app's credits tables, with a small planted
-- incident. PascalCase tables, camelCase quoted columns, text ids defaulting
-- to gen_random_uuid()::text, uppercase enums, timestamp(3) WITHOUT time
-- zone holding UTC (Prisma writes UTC), and "updatedAt" NOT NULL with no
-- default (Prisma's @updatedAt is filled in by the client, not the database).
-- The app keeps its own users ("User"); auth.users is not used.
--
-- Run as a superuser after supabase.sql, in a fresh database:
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/supabase.sql
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/shapes/prisma.sql
-- How `credits` maps these names is meant to live in shapes/prisma.toml.
--
-- Deliberately left as the app shipped it (see docs/credits-domain.md):
--   * RLS is OFF; Supabase's default privileges grant ALL to anon and
--     authenticated on every table here;
--   * no unique index on "CreditTransaction"("relatedRechargeId"): a recharge
--     can be credited twice; "CreditTransaction"."userId" has no foreign key;
--   * only the indexes Prisma makes for @id and @unique exist.
--
-- Planted incident (truth in credits_fixture.expected_finding):
--   alice  healthy: two completed recharges, a refunded one with its REFUND
--          transaction, one USAGE
--   bob    MISSING_TRANSACTION   completed, event "processed", no transaction;
--          plus a CANCELED checkout (not a finding)
--   carol  FAILED_PAID           failed; its payment_intent.succeeded event
--                                is stored with status 'failed'
--   dave   FAILED_UNVERIFIED     failed; only a checkout.session.completed with
--                                payment_status 'unpaid' (NOT evidence)
--   erin   STUCK_PENDING         pending for 5 h, no event; plus a 10-minute-old
--                                pending recharge, which is not a finding
--   frank  DUPLICATE_CREDIT      credited by checkout.session.completed and again
--                                by payment_intent.succeeded (two event ids)
--   grace  BALANCE_DRIFT         balance row missed her last USAGE
--   heidi  MISSING_BALANCE_ROW   welcome ADJUSTMENT + one recharge, no balance row
--   ivan   signed up, never bought anything: no finding
-- Timestamps are relative to now() (in UTC); everything else is literal.
-- Not idempotent: it is meant for a freshly created database.

-- ---------------------------------------------------------------------------
-- Schema, as `prisma migrate` generated it.
-- ---------------------------------------------------------------------------
CREATE TYPE "public"."RechargeStatus" AS ENUM ('PENDING', 'COMPLETED', 'FAILED', 'CANCELED', 'REFUNDED');
CREATE TYPE "public"."TransactionType" AS ENUM ('RECHARGE', 'USAGE', 'REFUND', 'ADJUSTMENT');

CREATE TABLE "public"."User" (
    "id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
    "email" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "public"."CreditPackage" (
    "id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
    "name" TEXT NOT NULL,
    "credits" INTEGER NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    CONSTRAINT "CreditPackage_pkey" PRIMARY KEY ("id")
);

-- "amount" is the number of credits to grant.
CREATE TABLE "public"."CreditRecharge" (
    "id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
    "userId" TEXT NOT NULL,
    "packageId" TEXT,
    "amount" INTEGER NOT NULL,
    "status" "public"."RechargeStatus" NOT NULL DEFAULT 'PENDING',
    "paymentIntentId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "CreditRecharge_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "public"."CreditTransaction" (
    "id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
    "userId" TEXT NOT NULL,
    "amount" INTEGER NOT NULL,
    "type" "public"."TransactionType" NOT NULL,
    "relatedRechargeId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "CreditTransaction_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "public"."UserCreditBalance" (
    "userId" TEXT NOT NULL,
    "balance" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "UserCreditBalance_pkey" PRIMARY KEY ("userId")
);

-- Every Stripe event the webhook route received ("id" is Stripe's evt_...).
CREATE TABLE "public"."StripeWebhookEvent" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "paymentIntentId" TEXT,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'received',
    "error" TEXT,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "StripeWebhookEvent_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "User_email_key" ON "public"."User"("email");
CREATE UNIQUE INDEX "CreditRecharge_paymentIntentId_key" ON "public"."CreditRecharge"("paymentIntentId");

ALTER TABLE "public"."CreditRecharge" ADD CONSTRAINT "CreditRecharge_userId_fkey"
    FOREIGN KEY ("userId") REFERENCES "public"."User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "public"."CreditRecharge" ADD CONSTRAINT "CreditRecharge_packageId_fkey"
    FOREIGN KEY ("packageId") REFERENCES "public"."CreditPackage"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "public"."CreditTransaction" ADD CONSTRAINT "CreditTransaction_relatedRechargeId_fkey"
    FOREIGN KEY ("relatedRechargeId") REFERENCES "public"."CreditRecharge"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "public"."UserCreditBalance" ADD CONSTRAINT "UserCreditBalance_userId_fkey"
    FOREIGN KEY ("userId") REFERENCES "public"."User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Prisma's own bookkeeping table: present in every Prisma database, not app data.
CREATE TABLE "public"."_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "public"."_prisma_migrations" VALUES
    ('feac23fc-c331-4a5d-8a1a-fe54f1026e14', 'b1c3f0d5e2a49d7c6e8f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f',
     now() - interval '60 days', '20240301120000_init', NULL, NULL, now() - interval '60 days', 1);

-- ---------------------------------------------------------------------------
-- Data. Ages are subtracted from the current UTC wall-clock time, as Prisma
-- would have stored it.
-- ---------------------------------------------------------------------------
INSERT INTO "public"."CreditPackage" ("id", "name", "credits", "isActive") VALUES
    ('de775013-f0b5-4966-8bdb-a987e89f5d2a', 'Starter',   100, true),
    ('4e3a71de-8e90-4c85-8173-f03f7c09dee7', 'Pro',       500, true),
    ('8f22f313-40a2-4ca7-883d-53d5a338ff3f', 'Legacy 50',  50, false);

INSERT INTO "public"."User" ("id", "email", "createdAt")
SELECT id, email, (now() AT TIME ZONE 'UTC') - age
FROM (VALUES
    ('1d1de3e8-a4b0-4185-8c17-1ff4da3e7c75', 'alice@prisma.test', interval '30 days'),
    ('ee418f63-0389-4c39-8226-0bd70bb9dd0a', 'bob@prisma.test',   interval '29 days'),
    ('dbb9753f-7c1c-47aa-8d30-7ca7b49b7dae', 'carol@prisma.test', interval '28 days'),
    ('73c13262-a1b8-452a-8978-304e7fc528c6', 'dave@prisma.test',  interval '20 days'),
    ('39193606-6d95-4ca7-8a2e-24a3866ea45f', 'erin@prisma.test',  interval '15 days'),
    ('fe8b3898-7a3f-4871-85c0-bfaac5c79bc6', 'frank@prisma.test', interval '14 days'),
    ('2cece6a7-7760-4944-8d54-383c59c53e81', 'grace@prisma.test', interval '12 days'),
    ('b6622a12-bb04-414f-8572-d8bed6afff4d', 'heidi@prisma.test', interval '7 days'),
    ('8f4cf0ab-5aed-4dc7-8ed5-5355bf8c97f6', 'ivan@prisma.test',  interval '2 days')
) AS u (id, email, age);

-- Recharges; who is the user's email before '@prisma.test', amount comes
-- from the package; settled = time until the app last updated the row.
INSERT INTO "public"."CreditRecharge"
    ("id", "userId", "packageId", "amount", "status", "paymentIntentId", "createdAt", "updatedAt")
SELECT r.id, u."id", p."id", p."credits", r.status::"public"."RechargeStatus", r.pi,
       (now() AT TIME ZONE 'UTC') - r.age, (now() AT TIME ZONE 'UTC') - r.age + r.settled
FROM (VALUES
    ('b7a2dd49-a7f4-48c7-8b70-b2a26e973010', 'alice', 'Starter', 'COMPLETED', 'pi_3yZkwbhL2oh0Xcd50h91HRqY', interval '6 days',     interval '20 seconds'),
    ('c2ceb9fb-90fc-449c-8f8b-3e2abaf2dcee', 'alice', 'Pro',     'COMPLETED', 'pi_3bfqiEGEE1gE9XmoeeKxdnBZ', interval '3 days',     interval '20 seconds'),
    ('944e202a-6fb8-4fc4-8846-a4c830fb069e', 'alice', 'Starter', 'REFUNDED',  'pi_3Ils7BBpxd2nlJytd46EXa5J', interval '5 days',     interval '1 day'),
    ('83cc36b3-6f7d-4743-8334-e273f8fc4f31', 'bob',   'Starter', 'COMPLETED', 'pi_3LznPFeUTWxmsywdWjIfNkiC', interval '4 days',     interval '20 seconds'),
    -- MISSING_TRANSACTION: the handler swallowed the insert error
    ('13f3c6ac-7da5-4b7b-8061-10c2cb744d4d', 'bob',   'Pro',     'COMPLETED', 'pi_3UjJ48POkVwuziGaVBH6ugsY', interval '1 day',      interval '20 seconds'),
    -- checkout expired before a payment intent existed: not a finding
    ('8a434d66-0a5e-4163-88b6-417203b0d000', 'bob',   'Pro',     'CANCELED',  NULL,                          interval '3 days',     interval '1 day'),
    ('2affa7bc-21cc-494c-8e76-95858a0ac631', 'carol', 'Starter', 'COMPLETED', 'pi_3dS3wAPmEWmZqHYBq5MyGJXJ', interval '5 days',     interval '20 seconds'),
    -- FAILED_PAID: the handler errored on payment_intent.succeeded, marked it failed
    ('76e753d0-da39-471e-8607-073273248da5', 'carol', 'Pro',     'FAILED',    'pi_3GblTe8jdlfL5k8neZU1fT5G', interval '2 days',     interval '20 seconds'),
    -- FAILED_UNVERIFIED: checkout completed unpaid, later marked failed
    ('1d1b917c-fcea-4387-8862-cedc70b6d543', 'dave',  'Starter', 'FAILED',    'pi_3LBvQiUDlA48cYwwSMRtvmT1', interval '3 days',     interval '1 hour'),
    ('2b6067a9-e7a9-4976-8918-b9448d9c76bc', 'erin',  'Starter', 'COMPLETED', 'pi_3mQZntlJ2h8ELha3ADvN8eNZ', interval '2 days',     interval '20 seconds'),
    -- STUCK_PENDING: no event ever arrived
    ('c76278fd-0f82-4a24-864f-d8b11ca2a438', 'erin',  'Pro',     'PENDING',   'pi_398aYoLW6uuWyWt0Tt0AEUPB', interval '5 hours',    interval '0'),
    -- fresh pending: not a finding
    ('ef5177d9-48a4-48ef-8cde-3f1f1cd25b2f', 'erin',  'Starter', 'PENDING',   NULL,                          interval '10 minutes', interval '0'),
    -- DUPLICATE_CREDIT
    ('e3507551-8880-44fd-8a35-829e7347470a', 'frank', 'Pro',     'COMPLETED', 'pi_37tjsYp3noNDBRz1Sjg69oud', interval '4 days',     interval '20 seconds'),
    ('7c6321db-1bca-4651-898e-14bbb81bc61c', 'grace', 'Pro',     'COMPLETED', 'pi_3Bx0Uh0drUMufMrbWd8hPsIx', interval '5 days',     interval '20 seconds'),
    ('905025cc-7a3e-4393-85e3-c6b0909cd4b8', 'heidi', 'Starter', 'COMPLETED', 'pi_38aZug4ZEbBHxDksRpwITdIR', interval '2 days',     interval '20 seconds')
) AS r (id, who, package, status, pi, age, settled)
JOIN "public"."User" u ON u."email" = r.who || '@prisma.test'
JOIN "public"."CreditPackage" p ON p."name" = r.package;

INSERT INTO "public"."CreditTransaction" ("id", "userId", "amount", "type", "relatedRechargeId", "createdAt")
SELECT t.id, u."id", t.amount, t.type::"public"."TransactionType", t.rid, (now() AT TIME ZONE 'UTC') - t.age
FROM (VALUES
    ('9dc9cf4c-12ff-430f-8437-e0de3a95c514', 'alice',  100, 'RECHARGE',   'b7a2dd49-a7f4-48c7-8b70-b2a26e973010', interval '6 days' - interval '20 seconds'),
    ('29d88072-5378-456e-8e74-70a6d463e46d', 'alice',  100, 'RECHARGE',   '944e202a-6fb8-4fc4-8846-a4c830fb069e', interval '5 days' - interval '20 seconds'),
    ('bd542f40-4da6-4383-8e7f-66deeb0fb595', 'alice', -100, 'REFUND',     '944e202a-6fb8-4fc4-8846-a4c830fb069e', interval '4 days'),
    ('79aac62d-7ac1-454d-894e-fdb00ec133e3', 'alice',  500, 'RECHARGE',   'c2ceb9fb-90fc-449c-8f8b-3e2abaf2dcee', interval '3 days' - interval '20 seconds'),
    ('5e997f91-828a-4558-85d4-7e796bc2b314', 'alice',  -30, 'USAGE',      NULL,                                   interval '2 days'),
    ('908c6f7b-db55-49c4-8519-dc3ad3621016', 'bob',    100, 'RECHARGE',   '83cc36b3-6f7d-4743-8334-e273f8fc4f31', interval '4 days' - interval '20 seconds'),
    ('7ce088a1-db61-4f27-857e-6d5d22d1254a', 'carol',  100, 'RECHARGE',   '2affa7bc-21cc-494c-8e76-95858a0ac631', interval '5 days' - interval '20 seconds'),
    ('1ac7cbee-90a7-4b21-88a2-1244c565d9ca', 'carol',  -20, 'USAGE',      NULL,                                   interval '1 day'),
    ('a21abcfc-fc85-41dc-8b9e-42e1b11b3040', 'erin',   100, 'RECHARGE',   '2b6067a9-e7a9-4976-8918-b9448d9c76bc', interval '2 days' - interval '20 seconds'),
    ('aed79f81-7cb1-4227-80bd-e84442aedd67', 'frank',  500, 'RECHARGE',   'e3507551-8880-44fd-8a35-829e7347470a', interval '4 days' - interval '20 seconds'),
    ('69222ad7-021c-4767-8a42-0bf560fdb2c3', 'frank',  500, 'RECHARGE',   'e3507551-8880-44fd-8a35-829e7347470a', interval '4 days' - interval '21 seconds'),
    ('dd240ef0-f09f-4e84-8276-f790bc1d628d', 'grace',  500, 'RECHARGE',   '7c6321db-1bca-4651-898e-14bbb81bc61c', interval '5 days' - interval '20 seconds'),
    ('45ba66b7-0ce8-4bbc-8a1c-82650f0c554a', 'grace',  -50, 'USAGE',      NULL,                                   interval '3 days'),
    ('f182fef7-5db3-46e8-8c9d-6b07efa47422', 'grace',  -25, 'USAGE',      NULL,                                   interval '1 day'),
    ('bac61637-0929-4931-8ef4-638a2733538e', 'heidi',   50, 'ADJUSTMENT', NULL,                                   interval '7 days'),
    ('b1006237-91ba-4e8e-8933-bc385ef752da', 'heidi',  100, 'RECHARGE',   '905025cc-7a3e-4393-85e3-c6b0909cd4b8', interval '2 days' - interval '20 seconds')
) AS t (id, who, amount, type, rid, age)
JOIN "public"."User" u ON u."email" = t.who || '@prisma.test';

-- grace's row missed her last USAGE (ledger 425, row 450); heidi has none
-- (ledger 150); dave and ivan have no transactions.
INSERT INTO "public"."UserCreditBalance" ("userId", "balance", "updatedAt")
SELECT u."id", b.balance, (now() AT TIME ZONE 'UTC') - b.age
FROM (VALUES
    ('alice',  570, interval '2 days'),
    ('bob',    100, interval '4 days'),
    ('carol',   80, interval '1 day'),
    ('erin',   100, interval '2 days'),
    ('frank', 1000, interval '4 days'),
    ('grace',  450, interval '3 days')
) AS b (who, balance, age)
JOIN "public"."User" u ON u."email" = b.who || '@prisma.test';

-- Stripe events, tied to their recharge by payment intent. obj is the
-- checkout session / charge id; st is the payment intent's status or the
-- session's payment_status; cents is the price paid.
INSERT INTO "public"."StripeWebhookEvent"
    ("id", "type", "paymentIntentId", "payload", "status", "error", "receivedAt")
SELECT e.id, e.type, e.pi,
       jsonb_build_object('id', e.id, 'object', 'event', 'type', e.type, 'livemode', true,
           'data', jsonb_build_object('object', CASE
               WHEN e.type LIKE 'checkout.session.%' THEN jsonb_build_object(
                   'id', e.obj, 'object', 'checkout.session', 'payment_intent', e.pi,
                   'payment_status', e.st, 'amount_total', e.cents, 'currency', 'usd',
                   'metadata', jsonb_build_object('rechargeId', r."id"))
               WHEN e.type = 'charge.refunded' THEN jsonb_build_object(
                   'id', e.obj, 'object', 'charge', 'payment_intent', e.pi,
                   'amount', e.cents, 'amount_refunded', e.cents, 'refunded', true)
               ELSE jsonb_build_object(
                   'id', e.pi, 'object', 'payment_intent', 'status', e.st,
                   'amount', e.cents, 'currency', 'usd',
                   'metadata', jsonb_build_object('rechargeId', r."id"))
           END)),
       e.status,
       CASE WHEN e.status = 'failed' THEN
           'new row violates row-level security policy for table "CreditTransaction"' END,
       (now() AT TIME ZONE 'UTC') - e.age
FROM (VALUES
    ('evt_19aI0lYNTLKRn2Yok00Jx0lU', 'payment_intent.succeeded',   'pi_3yZkwbhL2oh0Xcd50h91HRqY', NULL,                                 'succeeded',  999, 'processed', interval '6 days' - interval '15 seconds'),
    ('evt_1ZPqfQVQBRE3KUN7XFzTVq65', 'payment_intent.succeeded',   'pi_3Ils7BBpxd2nlJytd46EXa5J', NULL,                                 'succeeded',  999, 'processed', interval '5 days' - interval '15 seconds'),
    ('evt_1Hx08jymbAMgJ71RobJzKrgO', 'charge.refunded',            'pi_3Ils7BBpxd2nlJytd46EXa5J', 'ch_35lKm8AMR7ntzigYnlCa7Fgo',        NULL,         999, 'processed', interval '4 days'),
    ('evt_118HDyXMFIqbM0NSS0jdFZKq', 'payment_intent.succeeded',   'pi_3bfqiEGEE1gE9XmoeeKxdnBZ', NULL,                                 'succeeded', 3999, 'processed', interval '3 days' - interval '15 seconds'),
    ('evt_1zIgqewqZ3OJOiehuudeSJMh', 'payment_intent.succeeded',   'pi_3LznPFeUTWxmsywdWjIfNkiC', NULL,                                 'succeeded',  999, 'processed', interval '4 days' - interval '15 seconds'),
    ('evt_1T6C7whRwYdIhHnsmsweMzb4', 'payment_intent.succeeded',   'pi_3UjJ48POkVwuziGaVBH6ugsY', NULL,                                 'succeeded', 3999, 'processed', interval '1 day' - interval '15 seconds'),
    ('evt_1okxme2kthXP92AnogU1EYe7', 'payment_intent.succeeded',   'pi_3dS3wAPmEWmZqHYBq5MyGJXJ', NULL,                                 'succeeded',  999, 'processed', interval '5 days' - interval '15 seconds'),
    ('evt_1ys3T27L3Rf5Lhi98d7sJIP0', 'payment_intent.succeeded',   'pi_3GblTe8jdlfL5k8neZU1fT5G', NULL,                                 'succeeded', 3999, 'failed',    interval '2 days' - interval '15 seconds'),
    ('evt_1u4IJb11EQdUw7dLBIm2jAlA', 'checkout.session.completed', 'pi_3LBvQiUDlA48cYwwSMRtvmT1', 'cs_live_a15VgkPgCtXm2XLRcuW0HE5LsN', 'unpaid',     999, 'processed', interval '3 days' - interval '15 seconds'),
    ('evt_1e5k0S5SiCklEtpQ1Cy6lxq9', 'payment_intent.succeeded',   'pi_3mQZntlJ2h8ELha3ADvN8eNZ', NULL,                                 'succeeded',  999, 'processed', interval '2 days' - interval '15 seconds'),
    ('evt_1fljhOJzq7HRGotsJDwR2MhA', 'checkout.session.completed', 'pi_37tjsYp3noNDBRz1Sjg69oud', 'cs_live_a1rXpHymF4pVpGseLEJfKv670y', 'paid',      3999, 'processed', interval '4 days' - interval '15 seconds'),
    ('evt_1ITBIORZw1nIcXB1uoucugJQ', 'payment_intent.succeeded',   'pi_37tjsYp3noNDBRz1Sjg69oud', NULL,                                 'succeeded', 3999, 'processed', interval '4 days' - interval '16 seconds'),
    ('evt_1UvYaswM3A7WQKhQQYUb6jq0', 'payment_intent.succeeded',   'pi_3Bx0Uh0drUMufMrbWd8hPsIx', NULL,                                 'succeeded', 3999, 'processed', interval '5 days' - interval '15 seconds'),
    ('evt_1SmizNPTN9HN7SimskGO7yr3', 'payment_intent.succeeded',   'pi_38aZug4ZEbBHxDksRpwITdIR', NULL,                                 'succeeded',  999, 'processed', interval '2 days' - interval '15 seconds')
) AS e (id, type, pi, obj, st, cents, status, age)
JOIN "public"."CreditRecharge" r ON r."paymentIntentId" = e.pi;

-- ---------------------------------------------------------------------------
-- The truth: what a correct diagnosis reports. Not part of the app.
-- ---------------------------------------------------------------------------
CREATE SCHEMA credits_fixture;

CREATE TABLE credits_fixture.shape (name text);
INSERT INTO credits_fixture.shape VALUES ('prisma');

CREATE TABLE credits_fixture.expected_finding (
    kind        text NOT NULL,
    recharge_id text,               -- NULL for per-user findings
    user_id     text NOT NULL,
    email       text NOT NULL
);

INSERT INTO credits_fixture.expected_finding (kind, recharge_id, user_id, email) VALUES
    ('MISSING_TRANSACTION', '13f3c6ac-7da5-4b7b-8061-10c2cb744d4d', 'ee418f63-0389-4c39-8226-0bd70bb9dd0a', 'bob@prisma.test'),
    ('FAILED_PAID',         '76e753d0-da39-471e-8607-073273248da5', 'dbb9753f-7c1c-47aa-8d30-7ca7b49b7dae', 'carol@prisma.test'),
    ('FAILED_UNVERIFIED',   '1d1b917c-fcea-4387-8862-cedc70b6d543', '73c13262-a1b8-452a-8978-304e7fc528c6', 'dave@prisma.test'),
    ('STUCK_PENDING',       'c76278fd-0f82-4a24-864f-d8b11ca2a438', '39193606-6d95-4ca7-8a2e-24a3866ea45f', 'erin@prisma.test'),
    ('DUPLICATE_CREDIT',    'e3507551-8880-44fd-8a35-829e7347470a', 'fe8b3898-7a3f-4871-85c0-bfaac5c79bc6', 'frank@prisma.test'),
    ('BALANCE_DRIFT',       NULL,                                   '2cece6a7-7760-4944-8d54-383c59c53e81', 'grace@prisma.test'),
    ('MISSING_BALANCE_ROW', NULL,                                   'b6622a12-bb04-414f-8572-d8bed6afff4d', 'heidi@prisma.test');
