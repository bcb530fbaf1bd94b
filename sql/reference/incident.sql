-- incident.sql: a deterministic generator of a broken prepaid-credits ledger,
-- with the list of findings a correct diagnosis must report.
--
-- Run after supabase.sql and app_schema.sql, in a fresh database:
--   psql -v ON_ERROR_STOP=1 -d <db> -f sql/reference/incident.sql
--   psql -d <db> -c 'SELECT * FROM credits_demo.generate_incident(1000, 100, 42)'
--
-- credits_demo.generate_incident(p_recharges, p_users, p_seed) fills
-- auth.users, credit_recharge, credit_transaction, user_credit_balance,
-- stripe_webhook_event and stripe.payment_intents with healthy traffic plus
-- every failure mode in known counts, records the truth in
-- credits_demo.expected_finding (one row per finding) and returns the count
-- per kind. It is meant to be called once, on empty app tables.
--
-- Deterministic: the same arguments give the same rows, ids included. Ids
-- come from md5(seed:kind:n), choices from hashint8extended(n, seed); no
-- random(), gen_random_uuid() or sequence. Only timestamps move: they are
-- relative to now() (all recharges within the last 6 days; fresh pending
-- ones 10-50 minutes old, every other recharge at least 3 hours old).
-- Diagnose within the hour: 70 minutes after generation the oldest fresh
-- pending recharges pass the 2-hour mark and become STUCK_PENDING findings
-- that expected_finding does not list.
--
-- Set-based: a handful of INSERT ... SELECT over generate_series, no per-row
-- loop, so it scales to the 1M/10M-recharge benchmark (about 30 s per
-- million recharges on a small 2-core VM, run as superuser).
--
-- How the incident is described: each recharge number i falls in a bucket
-- (i % 2000, see credits_demo.bucket); each bucket plays one scenario
-- (credits_demo.scenario: recharge status, transactions, Stripe evidence,
-- expected finding), and each scenario has the webhook events Stripe sent
-- for it (credits_demo.scenario_event). To see the plan:
--   SELECT scenario, count(*) FROM credits_demo.bucket GROUP BY 1 ORDER BY 2 DESC;
--
-- The findings are mutually exclusive per recharge; the data never lets two
-- of them apply to the same recharge, whatever order a diagnosis checks in:
--   UNKNOWN_STATUS          status not in pending/completed/failed/canceled/refunded
--   DUPLICATE_CREDIT        more than one `recharge` transaction
--   CREDITED_NOT_COMPLETED  pending or failed, yet has a `recharge` transaction
--   MISSING_TRANSACTION     completed, no `recharge` transaction
--   AMOUNT_MISMATCH         completed, one `recharge` transaction of another amount
--                           (same user; the generator never writes a wrong user)
--   REFUNDED_NOT_DEBITED    refunded, credited, no `refund` transaction
--   FAILED_PAID             failed, not credited, with evidence of payment
--   FAILED_UNVERIFIED       failed, not credited, no evidence
--   STUCK_PENDING_PAID      pending > 2 h, not credited, with evidence
--   STUCK_PENDING           pending > 2 h, not credited, no evidence
-- and per user (recharge_id NULL in expected_finding):
--   BALANCE_DRIFT           balance row <> sum of the user's transactions
--   MISSING_BALANCE_ROW     the user has transactions but no balance row
-- Evidence of payment (docs/credits-domain.md) for the recharge's
-- payment_intent_id: a stripe_webhook_event of type payment_intent.succeeded,
-- checkout.session.async_payment_succeeded, or checkout.session.completed
-- with payload data.object.payment_status = 'paid' (whatever the event's own
-- status: failed, skipped_duplicate and received events count), or a
-- stripe.payment_intents row with status 'succeeded'.
-- Not findings: healthy completed recharges (also with duplicate deliveries),
-- refunded recharges with their refund transaction, canceled recharges, and
-- pending recharges younger than 2 h (even one whose success event has just
-- been received).
--
-- Not idempotent: it creates schema credits_demo and fails if it exists.

CREATE SCHEMA credits_demo;

COMMENT ON SCHEMA credits_demo IS
    'Incident generator for credits tests/demo/benchmark; not part of the app.';

-- ---------------------------------------------------------------------------
-- The truth: what a correct diagnosis reports after generate_incident().
-- ---------------------------------------------------------------------------
CREATE TABLE credits_demo.expected_finding (
    kind        text NOT NULL,
    recharge_id uuid,          -- NULL for user-level findings
    user_id     uuid NOT NULL
);

-- ---------------------------------------------------------------------------
-- Scenarios: one row per kind of recharge history.
-- ---------------------------------------------------------------------------
CREATE TABLE credits_demo.scenario (
    name            text PRIMARY KEY,
    finding         text,            -- expected finding kind, NULL when healthy
    recharge_status text NOT NULL,   -- credit_recharge.status
    has_pi          bool NOT NULL,   -- recharge got a payment_intent_id
    pi_status       text,            -- stripe.payment_intents.status; NULL = no synced row
    recharge_txs    int  NOT NULL,   -- number of `recharge` transactions
    tx_amount_pct   int  NOT NULL,   -- their amount, in % of the recharge amount
    refund_tx       bool NOT NULL,   -- a `refund` transaction of -amount exists
    fresh           bool NOT NULL,   -- created 10-50 min ago (else 3 h - 6 days)
    story           text NOT NULL    -- how the app got there
);

INSERT INTO credits_demo.scenario
    (name, finding, recharge_status, has_pi, pi_status, recharge_txs, tx_amount_pct, refund_tx, fresh, story)
VALUES
    -- healthy traffic
    ('healthy',                     NULL, 'completed', true, 'succeeded', 1, 100, false, false, 'webhook processed once'),
    ('healthy_redelivered',         NULL, 'completed', true, 'succeeded', 1, 100, false, false, 'Stripe delivered payment_intent.succeeded twice; second skipped'),
    ('healthy_checkout',            NULL, 'completed', true, 'succeeded', 1, 100, false, false, 'credited from checkout.session.completed; payment_intent.succeeded skipped'),
    ('healthy_async',               NULL, 'completed', true, 'succeeded', 1, 100, false, false, 'delayed payment method: completed unpaid, then async_payment_succeeded'),
    ('healthy_unsynced',            NULL, 'completed', true, NULL,        1, 100, false, false, 'Stripe Sync Engine has no row for this payment yet'),
    ('refunded_ok',                 NULL, 'refunded',  true, 'succeeded', 1, 100, true,  false, 'refunded and debited'),
    ('canceled_abandoned',          NULL, 'canceled',  false, NULL,       0, 100, false, false, 'checkout session expired before a payment intent existed'),
    ('canceled_intent',             NULL, 'canceled',  true, 'canceled',  0, 100, false, false, 'payment intent canceled'),
    ('fresh_pending_new',           NULL, 'pending',   false, NULL,       0, 100, false, true,  'checkout just opened'),
    ('fresh_pending_requires_pm',   NULL, 'pending',   true, 'requires_payment_method', 0, 100, false, true, 'user still typing card details'),
    ('fresh_pending_in_flight',     NULL, 'pending',   true, 'succeeded', 0, 100, false, true,  'success event received, handler not done yet'),
    ('fresh_pending_processing',    NULL, 'pending',   true, 'processing', 0, 100, false, true, 'bank debit in progress'),
    -- I1: completed, never credited
    ('missing_tx_rls',              'MISSING_TRANSACTION', 'completed', true, 'succeeded', 0, 100, false, false, 'status updated, transaction insert blocked by RLS'),
    ('missing_tx_partial',          'MISSING_TRANSACTION', 'completed', true, 'succeeded', 0, 100, false, false, 'handler swallowed the insert error and marked the event processed'),
    ('missing_tx_checkout_rls',     'MISSING_TRANSACTION', 'completed', true, 'succeeded', 0, 100, false, false, 'checkout.session.completed handler blocked by RLS'),
    ('missing_tx_no_event',         'MISSING_TRANSACTION', 'completed', true, 'succeeded', 0, 100, false, false, 'success page marked it completed; webhook never arrived'),
    ('missing_tx_retry_skipped',    'MISSING_TRANSACTION', 'completed', true, 'succeeded', 0, 100, false, false, 'first delivery failed, the retry was skipped as a duplicate'),
    -- failed although Stripe collected the money
    ('failed_paid_event',           'FAILED_PAID', 'failed', true, NULL,        0, 100, false, false, 'handler errored on payment_intent.succeeded and marked the recharge failed'),
    ('failed_paid_checkout',        'FAILED_PAID', 'failed', true, NULL,        0, 100, false, false, 'handler errored on checkout.session.completed (paid)'),
    ('failed_paid_async',           'FAILED_PAID', 'failed', true, NULL,        0, 100, false, false, 'handler errored on checkout.session.async_payment_succeeded'),
    ('failed_paid_synced',          'FAILED_PAID', 'failed', true, 'succeeded', 0, 100, false, false, 'no event stored; only the synced payment intent proves payment'),
    ('failed_paid_skipped',         'FAILED_PAID', 'failed', true, 'succeeded', 0, 100, false, false, 'only a skipped duplicate delivery was stored'),
    -- failed, nothing proves a payment: report with dashboard link, never credit
    ('failed_unverified_async_failed', 'FAILED_UNVERIFIED', 'failed', true, 'requires_payment_method', 0, 100, false, false, 'checkout completed unpaid, then async payment failed'),
    ('failed_unverified_declined',  'FAILED_UNVERIFIED', 'failed', true, 'requires_payment_method', 0, 100, false, false, 'card declined'),
    ('failed_unverified_no_pi',     'FAILED_UNVERIFIED', 'failed', false, NULL, 0, 100, false, false, 'failed before a payment intent existed'),
    -- pending for hours with proof of payment
    ('stuck_paid_skipped',          'STUCK_PENDING_PAID', 'pending', true, NULL,        0, 100, false, false, 'first delivery lost, retry skipped as duplicate'),
    ('stuck_paid_synced',           'STUCK_PENDING_PAID', 'pending', true, 'succeeded', 0, 100, false, false, 'webhook never arrived; Sync Engine saw the payment'),
    ('stuck_paid_async_received',   'STUCK_PENDING_PAID', 'pending', true, 'processing', 0, 100, false, false, 'async_payment_succeeded received but never processed; synced row is stale'),
    -- pending for hours, no proof
    ('stuck_no_pi',                 'STUCK_PENDING', 'pending', false, NULL, 0, 100, false, false, 'checkout abandoned before a payment intent existed'),
    ('stuck_requires_pm',           'STUCK_PENDING', 'pending', true, 'requires_payment_method', 0, 100, false, false, 'checkout abandoned at the card form'),
    ('stuck_unpaid_checkout',       'STUCK_PENDING', 'pending', true, 'processing', 0, 100, false, false, 'checkout completed unpaid, payment still processing'),
    -- I2: credited but the status says otherwise
    ('credited_pending',            'CREDITED_NOT_COMPLETED', 'pending', true, 'succeeded', 1, 100, false, false, 'status UPDATE matched 0 rows under RLS, insert went through'),
    ('credited_failed',             'CREDITED_NOT_COMPLETED', 'failed',  true, 'succeeded', 1, 100, false, false, 'decline event processed after the success event'),
    -- I4, I1, refunds, unknown statuses
    ('duplicate_credit',            'DUPLICATE_CREDIT',     'completed', true, 'succeeded', 2, 100, false, false, 'credited from payment_intent.succeeded and again from checkout.session.completed'),
    ('amount_mismatch',             'AMOUNT_MISMATCH',      'completed', true, 'succeeded', 1,  50, false, false, 'handler used a stale package size'),
    ('refunded_not_debited',        'REFUNDED_NOT_DEBITED', 'refunded',  true, 'succeeded', 1, 100, false, false, 'charge.refunded set the status but never debited'),
    ('unknown_status_paid',         'UNKNOWN_STATUS',       'paid',      true, 'succeeded', 0, 100, false, false, 'an old handler version wrote Stripe''s wording'),
    ('unknown_status_case',         'UNKNOWN_STATUS',       'Completed', true, 'succeeded', 0, 100, false, false, 'an admin tool wrote the status capitalised');

-- ---------------------------------------------------------------------------
-- Webhook events per scenario. object says which Stripe object is in
-- data.object; object_status is the payment intent's status inside it,
-- payment_status the checkout session's.
-- ---------------------------------------------------------------------------
CREATE TABLE credits_demo.scenario_event (
    scenario       text NOT NULL REFERENCES credits_demo.scenario (name),
    seq            int  NOT NULL,
    type           text NOT NULL,
    object         text NOT NULL CHECK (object IN ('payment_intent', 'checkout.session', 'charge')),
    object_status  text,
    payment_status text,
    status         text NOT NULL,    -- stripe_webhook_event.status
    error          text,
    delay_s        int  NOT NULL,    -- received this long after the recharge was created
    PRIMARY KEY (scenario, seq)
);

INSERT INTO credits_demo.scenario_event
    (scenario, seq, type, object, object_status, payment_status, status, error, delay_s)
SELECT v.scenario, v.seq, v.type, v.object, v.object_status, v.payment_status, v.status,
       CASE WHEN v.status = 'failed'
            THEN 'new row violates row-level security policy for table "credit_transaction"'
       END,
       v.delay_s
FROM (VALUES
    ('healthy',                        1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('healthy_redelivered',            1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('healthy_redelivered',            2, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'skipped_duplicate', 90),
    ('healthy_checkout',               1, 'checkout.session.completed',               'checkout.session', NULL,        'paid',   'processed',         20),
    ('healthy_checkout',               2, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'skipped_duplicate', 21),
    ('healthy_async',                  1, 'checkout.session.completed',               'checkout.session', NULL,        'unpaid', 'processed',         20),
    ('healthy_async',                  2, 'checkout.session.async_payment_succeeded', 'checkout.session', NULL,        'paid',   'processed',       3600),
    ('healthy_unsynced',               1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('refunded_ok',                    1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('refunded_ok',                    2, 'charge.refunded',                          'charge',           NULL,        NULL,     'processed',       7200),
    ('canceled_abandoned',             1, 'checkout.session.expired',                 'checkout.session', NULL,        'unpaid', 'processed',       1800),
    ('canceled_intent',                1, 'payment_intent.canceled',                  'payment_intent',   'canceled',  NULL,     'processed',       1800),
    ('fresh_pending_in_flight',        1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'received',          20),
    ('fresh_pending_processing',       1, 'checkout.session.completed',               'checkout.session', NULL,        'unpaid', 'processed',         20),
    ('missing_tx_rls',                 1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'failed',            20),
    ('missing_tx_partial',             1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('missing_tx_checkout_rls',        1, 'checkout.session.completed',               'checkout.session', NULL,        'paid',   'failed',            20),
    ('missing_tx_retry_skipped',       1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'failed',            20),
    ('missing_tx_retry_skipped',       2, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'skipped_duplicate', 3620),
    ('failed_paid_event',              1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'failed',            20),
    ('failed_paid_checkout',           1, 'checkout.session.completed',               'checkout.session', NULL,        'paid',   'failed',            20),
    ('failed_paid_async',              1, 'checkout.session.completed',               'checkout.session', NULL,        'unpaid', 'processed',         20),
    ('failed_paid_async',              2, 'checkout.session.async_payment_succeeded', 'checkout.session', NULL,        'paid',   'failed',          3600),
    ('failed_paid_skipped',            1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'skipped_duplicate', 3620),
    ('failed_unverified_async_failed', 1, 'checkout.session.completed',               'checkout.session', NULL,        'unpaid', 'processed',         20),
    ('failed_unverified_async_failed', 2, 'checkout.session.async_payment_failed',    'checkout.session', NULL,        'unpaid', 'processed',       3600),
    ('failed_unverified_declined',     1, 'payment_intent.payment_failed',            'payment_intent',   'requires_payment_method', NULL, 'processed', 20),
    ('stuck_paid_skipped',             1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'skipped_duplicate', 3620),
    ('stuck_paid_async_received',      1, 'checkout.session.completed',               'checkout.session', NULL,        'unpaid', 'processed',         20),
    ('stuck_paid_async_received',      2, 'checkout.session.async_payment_succeeded', 'checkout.session', NULL,        'paid',   'received',        3600),
    ('stuck_unpaid_checkout',          1, 'checkout.session.completed',               'checkout.session', NULL,        'unpaid', 'processed',         20),
    ('credited_pending',               1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('credited_failed',                1, 'payment_intent.payment_failed',            'payment_intent',   'requires_payment_method', NULL, 'processed', 10),
    ('credited_failed',                2, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('duplicate_credit',               1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('duplicate_credit',               2, 'checkout.session.completed',               'checkout.session', NULL,        'paid',   'processed',         21),
    ('amount_mismatch',                1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('refunded_not_debited',           1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('refunded_not_debited',           2, 'charge.refunded',                          'charge',           NULL,        NULL,     'processed',       7200),
    ('unknown_status_paid',            1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20),
    ('unknown_status_case',            1, 'payment_intent.succeeded',                 'payment_intent',   'succeeded', NULL,     'processed',         20)
) AS v (scenario, seq, type, object, object_status, payment_status, status, delay_s);

-- ---------------------------------------------------------------------------
-- Bucket -> scenario. Recharge i is in bucket i % 2000. Each bucket has a
-- slot, (bucket % 1000) * 387 % 1000: a shuffle of 0..999 (387 is coprime
-- with 1000), so buckets b and b+1000 share a slot and the failure modes
-- are spread out instead of filling the first recharges (a 100-recharge run
-- looks like real traffic). The slot decides the scenario, hence counts are
-- exact per thousand recharges and every failure mode appears once
-- p_recharges >= 1000. The one exception: the second thousand spells the
-- unknown status differently.
-- Per 1000 recharges: 50 MISSING_TRANSACTION, 5 FAILED_PAID,
-- 3 FAILED_UNVERIFIED, 3 STUCK_PENDING_PAID, 3 STUCK_PENDING, 4 fresh pending,
-- 2 CREDITED_NOT_COMPLETED, 1 each of DUPLICATE_CREDIT, AMOUNT_MISMATCH,
-- REFUNDED_NOT_DEBITED and UNKNOWN_STATUS, 2 healthy refunds, 2 cancellations,
-- 922 healthy completed.
-- ---------------------------------------------------------------------------
CREATE TABLE credits_demo.bucket (
    bucket   int PRIMARY KEY,
    slot     int NOT NULL,
    scenario text NOT NULL REFERENCES credits_demo.scenario (name)
);

INSERT INTO credits_demo.bucket (bucket, slot, scenario)
SELECT b, slot,
       CASE
           WHEN slot < 50 THEN (ARRAY['missing_tx_rls', 'missing_tx_partial', 'missing_tx_checkout_rls',
                                      'missing_tx_no_event', 'missing_tx_retry_skipped'])[1 + slot % 5]
           WHEN slot = 50 THEN 'failed_paid_event'
           WHEN slot = 51 THEN 'failed_paid_checkout'
           WHEN slot = 52 THEN 'failed_paid_async'
           WHEN slot = 53 THEN 'failed_paid_synced'
           WHEN slot = 54 THEN 'failed_paid_skipped'
           WHEN slot = 55 THEN 'failed_unverified_async_failed'
           WHEN slot = 56 THEN 'failed_unverified_declined'
           WHEN slot = 57 THEN 'failed_unverified_no_pi'
           WHEN slot = 58 THEN 'stuck_paid_skipped'
           WHEN slot = 59 THEN 'stuck_paid_synced'
           WHEN slot = 60 THEN 'stuck_paid_async_received'
           WHEN slot = 61 THEN 'stuck_no_pi'
           WHEN slot = 62 THEN 'stuck_requires_pm'
           WHEN slot = 63 THEN 'stuck_unpaid_checkout'
           WHEN slot = 64 THEN 'fresh_pending_new'
           WHEN slot = 65 THEN 'fresh_pending_requires_pm'
           WHEN slot = 66 THEN 'fresh_pending_in_flight'
           WHEN slot = 67 THEN 'fresh_pending_processing'
           WHEN slot = 68 THEN 'credited_pending'
           WHEN slot = 69 THEN 'credited_failed'
           WHEN slot = 70 THEN 'duplicate_credit'
           WHEN slot = 71 THEN 'amount_mismatch'
           WHEN slot = 72 THEN 'refunded_not_debited'
           WHEN slot = 73 AND b < 1000 THEN 'unknown_status_paid'
           WHEN slot = 73 THEN 'unknown_status_case'
           WHEN slot IN (74, 75) THEN 'refunded_ok'
           WHEN slot = 76 THEN 'canceled_abandoned'
           WHEN slot = 77 THEN 'canceled_intent'
           -- the remaining 922 slots are healthy, 1 in 20 of each variant
           WHEN slot % 20 = 0 THEN 'healthy_redelivered'
           WHEN slot % 20 = 1 THEN 'healthy_checkout'
           WHEN slot % 20 = 2 THEN 'healthy_async'
           WHEN slot % 20 = 3 THEN 'healthy_unsynced'
           ELSE 'healthy'
       END
FROM generate_series(0, 1999) AS b,
     LATERAL (SELECT (b % 1000) * 387 % 1000 AS slot) AS s;

-- ---------------------------------------------------------------------------
-- pick(n, salt, seed, modulo): a deterministic pseudo-random integer in
-- [0, modulo) for item n. Each salt is an independent stream (user choice,
-- package, age, ...). Inlined by the planner, so it costs one hash per call.
-- ---------------------------------------------------------------------------
CREATE FUNCTION credits_demo.pick(n bigint, salt int, seed int, modulo int)
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ((hashint8extended(n, seed::bigint * 7919 + salt) & 2147483647) % modulo)::int
$$;

-- ---------------------------------------------------------------------------
-- The generator.
-- ---------------------------------------------------------------------------
CREATE FUNCTION credits_demo.generate_incident(
    p_recharges int DEFAULT 1000,
    p_users     int DEFAULT 100,
    p_seed      int DEFAULT 42
)
RETURNS TABLE (kind text, expected int)
LANGUAGE plpgsql
-- Bulk-load settings, scoped to this call: room to sort and hash a million
-- rows in memory, and no JIT compilation (it costs more than it saves here).
SET work_mem = '256MB'
SET jit = off
AS $fn$
DECLARE
    v_replication_role text := current_setting('session_replication_role');
    v_triggers_off     bool := current_setting('is_superuser') = 'on';
    -- The active packages, smallest first (Starter, Pro, Team).
    v_pkg_id      uuid[];
    v_pkg_name    text[];
    v_pkg_credits int[];
    v_pkg_price   int[];
    v_user_id     uuid[];      -- user number n has id v_user_id[n]
    v_table       regclass;
BEGIN
    IF p_recharges < 0 OR p_users < 1 THEN
        RAISE EXCEPTION 'generate_incident: need p_recharges >= 0 and p_users >= 1';
    END IF;

    -- The truth is only the truth on empty tables: refuse to mix with data.
    IF EXISTS (SELECT FROM public.credit_recharge)
       OR EXISTS (SELECT FROM public.credit_transaction)
       OR EXISTS (SELECT FROM public.user_credit_balance)
       OR EXISTS (SELECT FROM public.stripe_webhook_event)
       OR EXISTS (SELECT FROM stripe.payment_intents)
       OR EXISTS (SELECT FROM credits_demo.expected_finding) THEN
        RAISE EXCEPTION 'generate_incident: app tables are not empty; run it once, on a fresh database';
    END IF;

    SELECT array_agg(id ORDER BY credits), array_agg(name ORDER BY credits),
           array_agg(credits ORDER BY credits), array_agg(price_cents ORDER BY credits)
      INTO v_pkg_id, v_pkg_name, v_pkg_credits, v_pkg_price
      FROM public.credit_package
     WHERE is_active;
    IF coalesce(array_length(v_pkg_id, 1), 0) <> 3 THEN
        RAISE EXCEPTION 'generate_incident: expected the 3 active packages of app_schema.sql';
    END IF;

    -- When run by a superuser, skip the per-row foreign-key triggers during
    -- the load, as pg_restore --disable-triggers does: every row references
    -- an existing user, package or recharge by construction, and the checks
    -- (which also lock each referenced row) would more than double the run
    -- time. Restored before returning. Other roles get the checks.
    IF v_triggers_off THEN
        PERFORM set_config('session_replication_role', 'replica', true);
    END IF;

    -- Users -----------------------------------------------------------------
    v_user_id := ARRAY(SELECT md5(p_seed || ':u:' || n)::uuid
                       FROM generate_series(1, p_users) AS n ORDER BY n);

    INSERT INTO auth.users (id, email)
    SELECT v_user_id[n], 'user' || n || '@example.com'
    FROM generate_series(1, p_users) AS n;

    -- The plan: one row per recharge with every per-recharge choice made
    -- once; all following inserts read it. A temporary table, so it costs
    -- no WAL and disappears at commit.
    IF to_regclass('pg_temp.incident_plan') IS NOT NULL THEN
        DROP TABLE pg_temp.incident_plan;     -- left over from an aborted call
    END IF;
    CREATE TEMP TABLE incident_plan ON COMMIT DROP AS
    SELECT g.i,
           md5(p_seed || ':r:' || g.i)::uuid                              AS recharge_id,
           v_user_id[1 + credits_demo.pick(g.i, 1, p_seed, p_users)]      AS user_id,
           b.scenario,
           -- 60 % Starter, 30 % Pro, 10 % Team
           CASE WHEN credits_demo.pick(g.i, 2, p_seed, 10) < 6 THEN 1
                WHEN credits_demo.pick(g.i, 2, p_seed, 10) < 9 THEN 2
                ELSE 3 END                                                 AS pkg,
           CASE WHEN s.has_pi THEN 'pi_' || substr(md5(p_seed || ':pi:' || g.i), 1, 24) END
                                                                           AS pi,
           now() - make_interval(secs => CASE
               WHEN s.fresh THEN 600 + credits_demo.pick(g.i, 3, p_seed, 2400)      -- 10-50 min
               ELSE 10800 + credits_demo.pick(g.i, 3, p_seed, 504000)               -- 3 h - 5.96 days
           END)                                                            AS created_at
    FROM generate_series(1, p_recharges) AS g (i)
    JOIN credits_demo.bucket   b ON b.bucket = g.i % 2000
    JOIN credits_demo.scenario s ON s.name = b.scenario;
    ANALYZE incident_plan;

    -- The big inserts below are in primary-key order: appending to a b-tree
    -- is much cheaper than inserting at random places in it.

    -- Recharges --------------------------------------------------------------
    INSERT INTO public.credit_recharge
        (id, user_id, package_id, amount, status, payment_intent_id, created_at, updated_at)
    SELECT p.recharge_id, p.user_id, v_pkg_id[p.pkg], v_pkg_credits[p.pkg],
           s.recharge_status, p.pi, p.created_at,
           CASE WHEN s.recharge_status <> 'pending' THEN p.created_at + interval '40 seconds' END
    FROM incident_plan p
    JOIN credits_demo.scenario s ON s.name = p.scenario
    ORDER BY p.recharge_id;

    -- Ledger: recharge and refund transactions --------------------------------
    INSERT INTO public.credit_transaction
        (id, user_id, amount, type, related_recharge_id, description, created_at)
    SELECT md5(p_seed || ':t:' || p.i || ':' || k)::uuid, p.user_id,
           v_pkg_credits[p.pkg] * s.tx_amount_pct / 100, 'recharge', p.recharge_id,
           'Purchase: ' || v_pkg_name[p.pkg] || ' (' || v_pkg_credits[p.pkg] || ' credits)',
           p.created_at + make_interval(secs => 30 + k)
    FROM incident_plan p
    JOIN credits_demo.scenario s ON s.name = p.scenario
    CROSS JOIN LATERAL generate_series(1, s.recharge_txs) AS k
    UNION ALL
    SELECT md5(p_seed || ':f:' || p.i)::uuid, p.user_id,
           -v_pkg_credits[p.pkg], 'refund', p.recharge_id,
           'Refund: ' || v_pkg_name[p.pkg],
           p.created_at + interval '2 hours'
    FROM incident_plan p
    JOIN credits_demo.scenario s ON s.name = p.scenario
    WHERE s.refund_tx
    ORDER BY 1;

    -- A few goodwill adjustments from support (1 user in 40).
    INSERT INTO public.credit_transaction
        (id, user_id, amount, type, related_recharge_id, description, created_at)
    SELECT md5(p_seed || ':a:' || n)::uuid, v_user_id[n],
           20, 'adjustment', NULL, 'Support goodwill credit',
           now() - make_interval(secs => 3600 + credits_demo.pick(n, 8, p_seed, 400000))
    FROM generate_series(1, p_users) AS n
    WHERE n % 40 = 3;

    -- Spending: 3 users in 4 consumed 20-79 % of what they hold, in 1-3
    -- steps after their last credit, so no ledger goes negative.
    INSERT INTO public.credit_transaction
        (id, user_id, amount, type, related_recharge_id, description, created_at)
    SELECT md5(p_seed || ':c:' || u.n || ':' || j)::uuid, l.user_id,
           -(l.net * u.pct / 100 / u.steps)::int,
           'consume', NULL, 'Credits used',
           least(now(), l.last_at + make_interval(mins => 7 * j))
    FROM (SELECT n, v_user_id[n] AS user_id,
                 20 + credits_demo.pick(n, 5, p_seed, 60) AS pct,
                 1 + credits_demo.pick(n, 4, p_seed, 3) AS steps
          FROM generate_series(1, p_users) AS n
          WHERE n % 4 <> 0) AS u
    JOIN (SELECT t.user_id, sum(t.amount) AS net, max(t.created_at) AS last_at
          FROM public.credit_transaction t
          GROUP BY t.user_id) AS l ON l.user_id = u.user_id
    CROSS JOIN LATERAL generate_series(1, u.steps) AS j
    WHERE l.net * u.pct / 100 / u.steps > 0;

    -- Balances: exactly the ledger sum for every user with transactions ...
    INSERT INTO public.user_credit_balance (user_id, balance, updated_at)
    SELECT t.user_id, sum(t.amount), max(t.created_at)
    FROM public.credit_transaction t
    GROUP BY t.user_id;

    -- ... except 1 user in 50 whose balance drifted (I3) ...
    WITH drifted AS (
        UPDATE public.user_credit_balance b
           SET balance = CASE WHEN b.balance - d.delta >= 0 AND d.down
                              THEN b.balance - d.delta ELSE b.balance + d.delta END
          FROM (SELECT v_user_id[n] AS user_id,
                       10 + credits_demo.pick(n, 6, p_seed, 491) AS delta,   -- 10..500
                       credits_demo.pick(n, 7, p_seed, 2) = 0 AS down
                FROM generate_series(1, p_users) AS n
                WHERE n % 50 = 7) AS d
         WHERE b.user_id = d.user_id
        RETURNING b.user_id
    )
    INSERT INTO credits_demo.expected_finding (kind, recharge_id, user_id)
    SELECT 'BALANCE_DRIFT', NULL, user_id FROM drifted;

    -- ... and 1 user in 50 whose balance row never got written (I3).
    WITH lost AS (
        DELETE FROM public.user_credit_balance b
         USING generate_series(1, p_users) AS n
         WHERE n % 50 = 13
           AND b.user_id = v_user_id[n]
        RETURNING b.user_id
    )
    INSERT INTO credits_demo.expected_finding (kind, recharge_id, user_id)
    SELECT 'MISSING_BALANCE_ROW', NULL, user_id FROM lost;

    -- Webhook events, shaped like Stripe's (the fields a handler reads) ---
    -- The payload is built as text and parsed once: about twice as fast as
    -- nested jsonb_build_object() calls. Every value is an id, a number or
    -- a fixed word, so nothing needs escaping. It carries no timestamp
    -- (received_at has it), so the same arguments give identical payloads.
    INSERT INTO public.stripe_webhook_event
        (id, type, payment_intent_id, payload, status, error, received_at)
    SELECT ev.evt, ev.type, ev.pi,
           format('{"id": "%s", "object": "event", "type": "%s", "data": {"object": %s}}',
                  ev.evt, ev.type,
                  CASE ev.object
                  WHEN 'payment_intent' THEN format(
                      '{"id": "%s", "object": "payment_intent", "amount": %s, '
                      '"status": "%s", "metadata": %s}',
                      ev.pi, v_pkg_price[ev.pkg], ev.object_status, x.metadata)
                  WHEN 'checkout.session' THEN format(
                      '{"id": "cs_%s", "object": "checkout.session", "payment_intent": %s, '
                      '"payment_status": "%s", "amount_total": %s, "metadata": %s}',
                      substr(md5(p_seed || ':cs:' || ev.i), 1, 24),
                      coalesce('"' || ev.pi || '"', 'null'),
                      ev.payment_status, v_pkg_price[ev.pkg], x.metadata)
                  ELSE format(
                      '{"id": "ch_%s", "object": "charge", "payment_intent": "%s", '
                      '"amount_refunded": %s, "metadata": %s}',
                      substr(md5(p_seed || ':ch:' || ev.i), 1, 24),
                      ev.pi, v_pkg_price[ev.pkg], x.metadata)
                  END)::jsonb,
           ev.status, ev.error, ev.at
    FROM (
        SELECT x.evt, e.type, e.object, e.object_status, e.payment_status, e.status, e.error,
               p.i, p.pi, p.recharge_id, p.user_id, p.pkg,
               p.created_at + make_interval(secs => e.delay_s) AS at
        FROM incident_plan p
        JOIN credits_demo.scenario_event e ON e.scenario = p.scenario
        CROSS JOIN LATERAL (
            SELECT 'evt_' || substr(md5(p_seed || ':e:' || p.i || ':' || e.seq), 1, 24) AS evt
        ) AS x
        -- C collation: byte order, cheap to sort, and the index order for
        -- these ASCII ids
        ORDER BY x.evt COLLATE "C"
    ) AS ev
    CROSS JOIN LATERAL (
        SELECT format('{"recharge_id": "%s", "user_id": "%s"}',
                      ev.recharge_id, ev.user_id) AS metadata
    ) AS x;

    -- Stripe Sync Engine's copy of the payment intents it has seen ----------
    INSERT INTO stripe.payment_intents (id, amount, currency, status, created, metadata)
    SELECT pi.pi, v_pkg_price[pi.pkg], 'usd', pi.pi_status,
           extract(epoch FROM pi.created_at)::bigint,
           jsonb_build_object('recharge_id', pi.recharge_id, 'user_id', pi.user_id,
                              'credits', v_pkg_credits[pi.pkg])
    FROM (
        SELECT p.pi, p.pkg, s.pi_status, p.created_at, p.recharge_id, p.user_id
        FROM incident_plan p
        JOIN credits_demo.scenario s ON s.name = p.scenario
        WHERE p.pi IS NOT NULL AND s.pi_status IS NOT NULL
        ORDER BY p.pi COLLATE "C"
    ) AS pi;

    -- The recharge-level truth -------------------------------------------------
    INSERT INTO credits_demo.expected_finding (kind, recharge_id, user_id)
    SELECT s.finding, p.recharge_id, p.user_id
    FROM incident_plan p
    JOIN credits_demo.scenario s ON s.name = p.scenario
    WHERE s.finding IS NOT NULL;

    DROP TABLE incident_plan;
    IF v_triggers_off THEN
        PERFORM set_config('session_replication_role', v_replication_role, true);
    END IF;

    -- Fresh statistics, so the first diagnosis after a bulk load is planned
    -- on real row counts (autovacuum would get there only later). Only the
    -- tables this role may analyze (owner or superuser), to stay quiet.
    FOR v_table IN
        SELECT c.oid::regclass
        FROM pg_class c
        WHERE c.oid IN ('auth.users'::regclass, 'public.credit_recharge'::regclass,
                        'public.credit_transaction'::regclass, 'public.user_credit_balance'::regclass,
                        'public.stripe_webhook_event'::regclass, 'stripe.payment_intents'::regclass,
                        'credits_demo.expected_finding'::regclass)
          AND pg_has_role(c.relowner, 'USAGE')
    LOOP
        EXECUTE format('ANALYZE %s', v_table);
    END LOOP;

    -- Every kind, 0 when absent (small runs), then the totals.
    RETURN QUERY
    SELECT k.kind, count(f.kind)::int
    FROM (SELECT DISTINCT s.finding AS kind FROM credits_demo.scenario s WHERE s.finding IS NOT NULL
          UNION SELECT 'BALANCE_DRIFT' UNION SELECT 'MISSING_BALANCE_ROW') AS k
    LEFT JOIN credits_demo.expected_finding f ON f.kind = k.kind
    GROUP BY k.kind
    ORDER BY k.kind;

    RETURN QUERY VALUES ('recharges', p_recharges), ('users', p_users);
END
$fn$;

-- Nobody but the owner runs the generator (functions are executable by PUBLIC
-- by default), and the API roles have no business in this schema.
REVOKE ALL ON FUNCTION credits_demo.generate_incident(int, int, int) FROM PUBLIC;
REVOKE ALL ON SCHEMA credits_demo FROM PUBLIC;
