//! `credits stripe check` and `credits stripe reconcile` against a fake
//! Stripe on loopback (`fake_stripe.rs`) and a real PostgreSQL.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fake_stripe::{
    FakeStripe, Fault, KEY, Restricted, Seed, endpoint, event, payment_intent,
};
use crate::harness::{Run, TestDb, credits_with_env};

const USER: &str = "00000000-0000-4000-8000-0000000000aa";
const WEBHOOK_URL: &str = "https://app.example.com/api/stripe/webhook";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs credits against `db` and `stripe` with the key `key`.
fn run_with_key(db: &TestDb, stripe: &FakeStripe, key: &str, args: &[&str]) -> Run {
    credits_with_env(
        args,
        &[
            ("DATABASE_URL", &db.url),
            ("STRIPE_API_BASE", &stripe.base),
            ("STRIPE_API_KEY", key),
        ],
    )
}

fn run(db: &TestDb, stripe: &FakeStripe, args: &[&str]) -> Run {
    run_with_key(db, stripe, KEY, args)
}

/// The recharges of every reconcile category (and one that agrees), with
/// `fillers` more paid and credited ones; prices stored, so amounts are
/// compared. Returns the installed database.
fn ledger(fillers: i32) -> TestDb {
    let db = TestDb::new();
    db.client()
        .batch_execute(&format!(
            "ALTER TABLE credit_recharge ADD COLUMN price int, ADD COLUMN currency text;
             INSERT INTO auth.users (id, email) VALUES ('{USER}', 'payer@example.com');
             INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, price, currency, created_at) VALUES
               ('00000000-0000-4000-8000-000000000001', '{USER}', 100, 'completed', 'pi_ok', 999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000002', '{USER}', 100, 'failed', 'pi_paid', 999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000003', '{USER}', 500, 'completed', 'pi_unpaid', 3999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000004', '{USER}', 100, 'completed', 'pi_ghost', 999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000005', '{USER}', 100, 'completed', 'pi_refunded', 999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000006', '{USER}', 2000, 'completed', 'pi_mismatch', 12999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000007', '{USER}', 100, 'pending', NULL, 999, 'usd', now() - interval '1 hour'),
               ('00000000-0000-4000-8000-000000000008', '{USER}', 100, 'completed', 'pi_twice_a', 999, 'usd', now() - interval '1 hour');
             INSERT INTO credit_recharge (user_id, amount, status, payment_intent_id, price, currency, created_at)
               SELECT '{USER}', 100, 'completed', format('pi_fill_%s', lpad(n::text, 3, '0')), 999, 'usd', now() - interval '2 hours'
               FROM generate_series(1, {fillers}) n;
             INSERT INTO credit_transaction (user_id, amount, type, related_recharge_id)
               SELECT user_id, amount, 'recharge', id FROM credit_recharge WHERE status = 'completed';"
        ))
        .unwrap();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    db
}

/// Stripe's side of [`ledger`]: one payment intent per case.
fn payments(fillers: i32) -> Vec<Value> {
    let at = now() - 3000;
    let meta = |recharge: &str| json!({"rechargeId": recharge, "userId": USER});
    let mut all = vec![
        payment_intent(
            "pi_ok",
            "succeeded",
            999,
            "usd",
            at,
            meta("00000000-0000-4000-8000-000000000001"),
            0,
        ),
        payment_intent("pi_paid", "succeeded", 999, "usd", at + 1, json!({}), 0),
        payment_intent("pi_unpaid", "canceled", 3999, "usd", at + 2, json!({}), 0),
        payment_intent(
            "pi_refunded",
            "succeeded",
            999,
            "usd",
            at + 3,
            json!({}),
            999,
        ),
        payment_intent("pi_mismatch", "succeeded", 999, "usd", at + 4, json!({}), 0),
        payment_intent("pi_orphan", "succeeded", 999, "usd", at + 5, json!({}), 0),
        payment_intent(
            "pi_meta",
            "succeeded",
            999,
            "usd",
            at + 6,
            meta("00000000-0000-4000-8000-000000000007"),
            0,
        ),
        payment_intent("pi_twice_a", "succeeded", 999, "usd", at + 7, json!({}), 0),
        payment_intent(
            "pi_twice_b",
            "succeeded",
            999,
            "usd",
            at + 8,
            meta("00000000-0000-4000-8000-000000000008"),
            0,
        ),
        // Older than the window: never listed.
        payment_intent(
            "pi_old",
            "succeeded",
            999,
            "usd",
            now() - 30 * 86400,
            json!({}),
            0,
        ),
    ];
    for n in 1..=fillers {
        all.push(payment_intent(
            &format!("pi_fill_{n:03}"),
            "succeeded",
            999,
            "usd",
            at - 100 - i64::from(n),
            json!({}),
            0,
        ));
    }
    all
}

/// category -> (count, credits) from a reconcile JSON document.
fn counts(json: &Value) -> Vec<(String, i64, i64)> {
    json["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["category"].as_str().unwrap().to_string(),
                row["count"].as_i64().unwrap(),
                row["credits"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn every_category() -> Vec<(String, i64, i64)> {
    [
        ("PAID_NOT_CREDITED", 2, 200),
        ("CREDITED_NOT_PAID", 2, 600),
        ("REFUNDED_STILL_CREDITED", 1, 100),
        ("AMOUNT_MISMATCH", 1, 2000),
        ("PAYMENT_WITHOUT_RECHARGE", 1, 0),
        ("TWO_PAYMENTS_ONE_RECHARGE", 1, 100),
    ]
    .iter()
    .map(|(name, count, credits)| (name.to_string(), *count, *credits))
    .collect()
}

/// The finding of `category` for `payment_intent`, if any.
fn finding<'a>(json: &'a Value, category: &str, payment_intent: &str) -> Option<&'a Value> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["category"] == category && f["payment_intent_id"] == payment_intent)
}

#[test]
fn reconcile_finds_every_category_across_pages() {
    let db = ledger(100);
    let stripe = FakeStripe::start(Seed {
        payment_intents: payments(100),
        ..Seed::default()
    });
    let out = run(
        &db,
        &stripe,
        &["stripe", "reconcile", "--since", "7d", "--output", "json"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let json = out.json();
    assert_eq!(json["command"], "stripe reconcile");
    assert_eq!(json["mode"], "test");
    assert_eq!(json["source"], "api");
    assert_eq!(json["payments"], 109, "{json}");
    assert_eq!(counts(&json), every_category(), "{json}");
    for (category, pi) in [
        ("PAID_NOT_CREDITED", "pi_paid"),
        ("PAID_NOT_CREDITED", "pi_meta"),
        ("CREDITED_NOT_PAID", "pi_unpaid"),
        ("CREDITED_NOT_PAID", "pi_ghost"),
        ("REFUNDED_STILL_CREDITED", "pi_refunded"),
        ("AMOUNT_MISMATCH", "pi_mismatch"),
        ("PAYMENT_WITHOUT_RECHARGE", "pi_orphan"),
    ] {
        let found =
            finding(&json, category, pi).unwrap_or_else(|| panic!("{category} {pi}: {json}"));
        assert_eq!(
            found["dashboard_url"],
            format!("https://dashboard.stripe.com/payments/{pi}")
        );
    }
    // Both payments of the recharge paid twice are named.
    let twice = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["category"] == "TWO_PAYMENTS_ONE_RECHARGE")
        .unwrap();
    let text = twice.to_string();
    assert!(
        text.contains("pi_twice_a") && text.contains("pi_twice_b"),
        "{twice}"
    );
    assert!(
        finding(&json, "PAID_NOT_CREDITED", "pi_meta").unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("metadata rechargeId")
    );

    // 109 payments: two pages of at most 100, each asked with the pinned
    // version, the charges expanded and the window's start.
    let requests = stripe.requests("/v1/payment_intents");
    assert_eq!(requests.len(), 2, "{requests:?}");
    for request in &requests {
        assert_eq!(
            request.headers["stripe-version"],
            credits::stripe::client::API_VERSION
        );
        assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));
        let has = |k: &str, v: &str| {
            request
                .query
                .iter()
                .any(|(a, b)| a == k && (v.is_empty() || b == v))
        };
        assert!(
            has("expand[]", "data.latest_charge") && has("limit", "100") && has("created[gte]", "")
        );
    }
    assert!(requests[1].query.iter().any(|(k, _)| k == "starting_after"));

    // The table says the mode, and CSV carries the findings.
    let table = run(&db, &stripe, &["stripe", "reconcile"]);
    assert_eq!(table.code, 1);
    assert!(table.stdout.contains("Stripe (test mode)"), "{table:?}");
    let csv = run(&db, &stripe, &["stripe", "reconcile", "--output", "csv"]);
    assert!(
        csv.stdout
            .starts_with("category,payment_intent_id,recharge_id"),
        "{csv:?}"
    );
    assert_eq!(csv.stdout.lines().count(), 1 + 8, "{csv:?}");
}

#[test]
fn exactly_one_full_page_is_one_request_and_all_agree() {
    let db = TestDb::new();
    db.client()
        .batch_execute(&format!(
            "INSERT INTO auth.users (id, email) VALUES ('{USER}', 'payer@example.com');
             INSERT INTO credit_recharge (user_id, amount, status, payment_intent_id, created_at)
               SELECT '{USER}', 100, 'completed', format('pi_fill_%s', lpad(n::text, 3, '0')), now() - interval '2 hours'
               FROM generate_series(1, 100) n;
             INSERT INTO credit_transaction (user_id, amount, type, related_recharge_id)
               SELECT user_id, amount, 'recharge', id FROM credit_recharge;"
        ))
        .unwrap();
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let fillers: Vec<Value> = payments(100)
        .into_iter()
        .filter(|pi| pi["id"].as_str().unwrap().starts_with("pi_fill"))
        .collect();
    let stripe = FakeStripe::start(Seed {
        payment_intents: fillers,
        ..Seed::default()
    });
    let out = run(&db, &stripe, &["stripe", "reconcile", "--output", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["payments"], 100);
    assert_eq!(out.json()["disagreements"], 0);
    assert_eq!(stripe.requests("/v1/payment_intents").len(), 1);
}

/// The Dashboard's Payments export (unified_payments.csv) in its column
/// layout: a charge id, major units (one with a decimal comma), statuses
/// Paid/Refunded/Failed, and metadata columns.
fn dashboard_export(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("unified_payments.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    let created = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S");
    writeln!(file, "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Converted Amount,Converted Amount Refunded,Converted Currency,Decline Reason,Description,Fee,Mode,Refunded date (UTC),Statement Descriptor,Status,Seller Message,Taxes On Fee,Card ID,Customer ID,Customer Description,Customer Email,Invoice ID,Transfer,PaymentIntent ID,rechargeId (metadata),userId (metadata)").unwrap();
    let rows = [
        (
            "ch_ok",
            "9.99",
            "0.00",
            "Paid",
            "pi_ok",
            "00000000-0000-4000-8000-000000000001",
        ),
        ("ch_paid", "\"9,99\"", "\"0,00\"", "Paid", "pi_paid", ""),
        ("ch_unpaid", "39.99", "0.00", "Failed", "pi_unpaid", ""),
        ("ch_refunded", "9.99", "9.99", "Refunded", "pi_refunded", ""),
        ("ch_mismatch", "9.99", "0.00", "Paid", "pi_mismatch", ""),
        ("ch_orphan", "9.99", "0.00", "Paid", "pi_orphan", ""),
        (
            "ch_meta",
            "9.99",
            "0.00",
            "Paid",
            "pi_meta",
            "00000000-0000-4000-8000-000000000007",
        ),
        ("ch_twice_a", "9.99", "0.00", "Paid", "pi_twice_a", ""),
        (
            "ch_twice_b",
            "9.99",
            "0.00",
            "Paid",
            "pi_twice_b",
            "00000000-0000-4000-8000-000000000008",
        ),
        // A charge made without a payment intent: not a payment of the app.
        ("ch_legacy", "5.00", "0.00", "Paid", "", ""),
    ];
    for (charge, amount, refunded, status, pi, recharge) in rows {
        writeln!(
            file,
            "{charge},{created},{amount},{refunded},usd,true,{amount},{refunded},usd,,Credits,0.59,Test,,CREDITS,{status},Payment complete.,0.00,card_1,cus_1,,payer@example.com,,,{pi},{recharge},{USER}"
        )
        .unwrap();
    }
    path
}

#[test]
fn reconcile_reads_a_dashboard_export_without_a_key() {
    let db = ledger(0);
    let dir = test_dir(&db);
    let export = dashboard_export(&dir);
    let out = credits_with_env(
        &[
            "stripe",
            "reconcile",
            "--stripe-export",
            export.to_str().unwrap(),
            "--output",
            "json",
        ],
        &[("DATABASE_URL", &db.url), ("STRIPE_API_KEY", "")],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let json = out.json();
    assert_eq!(json["source"], "export");
    assert_eq!(json["mode"], "test", "from the Mode column");
    assert_eq!(json["payments"], 9, "{json}");
    assert_eq!(counts(&json), every_category(), "{json}");
    let sha = Sha256::digest(std::fs::read(&export).unwrap());
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(json["export_sha256"], hex);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_export_missing_columns_is_a_usage_error_naming_them() {
    let db = ledger(0);
    let dir = test_dir(&db);
    let path = dir.join("payments.csv");
    std::fs::write(
        &path,
        "id,Amount,Status,Customer Email\nch_1,9.99,Paid,a@example.com\n",
    )
    .unwrap();
    let out = credits_with_env(
        &[
            "stripe",
            "reconcile",
            "--stripe-export",
            path.to_str().unwrap(),
        ],
        &[("DATABASE_URL", &db.url)],
    );
    assert_eq!(out.code, 2, "{out:?}");
    for column in [
        "\"PaymentIntent ID\"",
        "\"Amount Refunded\"",
        "\"Currency\"",
    ] {
        assert!(out.stderr.contains(column), "{column}: {out:?}");
    }
    assert!(!out.stderr.contains("\"Status\""), "{out:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn webhook_seed(endpoints: Vec<Value>, events: Vec<Value>) -> Seed {
    Seed {
        webhook_endpoints: endpoints,
        events,
        ..Seed::default()
    }
}

fn healthy_stripe() -> FakeStripe {
    let version = Some(credits::stripe::client::API_VERSION);
    FakeStripe::start(webhook_seed(
        vec![endpoint(
            "we_app",
            WEBHOOK_URL,
            "enabled",
            &["payment_intent.succeeded", "checkout.session.completed"],
            version,
        )],
        vec![event(
            "evt_done",
            "payment_intent.succeeded",
            "pi_ok",
            now() - 600,
            true,
        )],
    ))
}

#[test]
fn check_passes_a_healthy_setup() {
    let db = ledger(0);
    let stripe = healthy_stripe();
    let out = run(
        &db,
        &stripe,
        &[
            "stripe",
            "check",
            "--since",
            "3d",
            "--expect-url",
            WEBHOOK_URL,
            "--expect-api-version",
            credits::stripe::client::API_VERSION,
            "--output",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["mode"], "test");
    assert_eq!(json["problems"], 0);
    assert_eq!(json["undelivered"], json!([]));
    assert_eq!(json["endpoints"][0]["endpoint_id"], "we_app");
    let events = stripe.requests("/v1/events");
    assert_eq!(events.len(), 1);
    let types: Vec<&str> = events[0]
        .query
        .iter()
        .filter(|(k, _)| k == "types[]")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "payment_intent.succeeded",
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded"
        ]
    );
    assert!(
        events[0]
            .query
            .contains(&("delivery_success".into(), "false".into()))
    );
}

#[test]
fn check_reports_a_broken_setup_and_the_events_stripe_could_not_deliver() {
    let db = ledger(0);
    let stripe = FakeStripe::start(webhook_seed(
        vec![
            endpoint("we_off", WEBHOOK_URL, "disabled", &["*"], None),
            endpoint(
                "we_new",
                "https://app.example.com/api/hooks",
                "enabled",
                &["checkout.session.completed"],
                Some("2024-06-20"),
            ),
        ],
        vec![
            event(
                "evt_credited",
                "payment_intent.succeeded",
                "pi_ok",
                now() - 7200,
                false,
            ),
            event(
                "evt_lost",
                "checkout.session.completed",
                "pi_paid",
                now() - 3600,
                false,
            ),
            event(
                "evt_fine",
                "checkout.session.completed",
                "pi_twice_a",
                now() - 1800,
                true,
            ),
            event(
                "evt_old",
                "payment_intent.succeeded",
                "pi_old",
                now() - 10 * 86400,
                false,
            ),
        ],
    ));
    let out = run(
        &db,
        &stripe,
        &[
            "stripe",
            "check",
            "--expect-url",
            WEBHOOK_URL,
            "--expect-api-version",
            credits::stripe::client::API_VERSION,
            "--output",
            "json",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let json = out.json();
    assert_eq!(json["problems"], 3);
    assert_eq!(json["undelivered_events"], 2);
    let problems: Vec<(&str, &str)> = json["webhook_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["problem"].as_str().unwrap(),
                p["endpoint_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("ENDPOINT_DISABLED", "we_off"),
            ("EXPECTED_URL_MISSING", ""),
            ("API_VERSION_MISMATCH", "we_new")
        ],
        "{json}"
    );
    let undelivered = json["undelivered"].as_array().unwrap();
    assert_eq!(undelivered.len(), 2, "{json}");
    let lost = &undelivered[0];
    assert_eq!(lost["event_id"], "evt_lost");
    assert_eq!(lost["payment_intent_id"], "pi_paid");
    assert_eq!(lost["recharge_id"], "00000000-0000-4000-8000-000000000002");
    assert_eq!(lost["credited"], false);
    assert_eq!(
        lost["resend"],
        "stripe events resend evt_lost --webhook-endpoint we_new"
    );
    let credited = &undelivered[1];
    assert_eq!(credited["event_id"], "evt_credited");
    assert_eq!(credited["credited"], true);
    // No enabled endpoint receives payment_intent.succeeded: nothing to resend to.
    assert_eq!(credited["resend"], "");

    let none = FakeStripe::start(webhook_seed(
        vec![endpoint(
            "we_other",
            WEBHOOK_URL,
            "enabled",
            &["customer.created"],
            None,
        )],
        vec![],
    ));
    let out = run(&db, &none, &["stripe", "check", "--output", "json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["problems"], 1);
    assert!(out.stdout.contains("NO_SUCCESS_ENDPOINT"), "{out:?}");
}

#[test]
fn a_refused_key_is_exit_3_and_never_printed() {
    let db = ledger(0);
    let stripe = healthy_stripe();
    let wrong = "sk_test_51WrongKeyThatStripeRefuses9876zyxw";
    for args in [&["stripe", "check"][..], &["stripe", "reconcile"][..]] {
        let out = run_with_key(&db, &stripe, wrong, args);
        assert_eq!(out.code, 3, "{out:?}");
        assert!(out.stderr.contains("the Stripe key was refused"), "{out:?}");
        assert!(
            out.stderr.contains("req_fake"),
            "the Request-Id is given: {out:?}"
        );
        for shown in [&out.stdout, &out.stderr] {
            assert!(!shown.contains(wrong), "{out:?}");
            // Not even Stripe's masked form with its last characters.
            assert!(
                !shown.contains("zyxw") && !shown.contains("sk_test_"),
                "{out:?}"
            );
        }
    }
}

#[test]
fn a_restricted_key_lacking_a_permission_says_which() {
    let db = ledger(0);
    let stripe = healthy_stripe();
    let restricted = "rk_test_51RestrictedKeyWithoutWebhooks4321abcd";
    stripe.restrict(Restricted {
        key: restricted.into(),
        permission: "rak_webhook_read".into(),
        path: "/v1/webhook_endpoints".into(),
    });
    let out = run_with_key(&db, &stripe, restricted, &["stripe", "check"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("rak_webhook_read"), "{out:?}");
    assert!(out.stderr.contains("/v1/webhook_endpoints"), "{out:?}");
    assert!(
        !out.stderr.contains(restricted) && !out.stderr.contains("abcd'"),
        "{out:?}"
    );
    // The same key may read payment intents.
    let reconcile = run_with_key(
        &db,
        &stripe,
        restricted,
        &["stripe", "reconcile", "--output", "json"],
    );
    assert_eq!(reconcile.code, 1, "{reconcile:?}");
}

#[test]
fn rate_limits_and_server_errors_are_retried_and_bounded() {
    let db = ledger(0);
    let stripe = healthy_stripe();
    stripe.fault("/v1/webhook_endpoints", Fault::RateLimited);
    stripe.fault("/v1/events", Fault::ServerError { should_retry: true });
    let out = run(&db, &stripe, &["stripe", "check"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(stripe.requests("/v1/webhook_endpoints").len(), 2);
    assert_eq!(stripe.requests("/v1/events").len(), 2);

    // Stripe-Should-Retry: false is final.
    stripe.fault(
        "/v1/webhook_endpoints",
        Fault::ServerError {
            should_retry: false,
        },
    );
    let out = run(&db, &stripe, &["stripe", "check"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("Stripe answered 500 api_error"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("Sorry, something went wrong"),
        "{out:?}"
    );
    assert_eq!(stripe.requests("/v1/webhook_endpoints").len(), 3);

    // A reconcile cut short still leaves one JSON document, saying why.
    stripe.fault(
        "/v1/payment_intents",
        Fault::ServerError {
            should_retry: false,
        },
    );
    let out = run(
        &db,
        &stripe,
        &["stripe", "reconcile", "--since", "7d", "--output", "json"],
    );
    assert_eq!(out.code, 3, "{out:?}");
    let document: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert!(
        document["error"]
            .as_str()
            .is_some_and(|e| e.contains("Stripe answered 500 api_error")),
        "{document}"
    );
    assert_eq!(document["findings"], serde_json::json!([]), "{document}");
}

#[test]
fn a_reply_slower_than_the_timeout_is_exit_3() {
    let db = ledger(0);
    let stripe = healthy_stripe();
    stripe.fault("/v1/webhook_endpoints", Fault::Slow(Duration::from_secs(4)));
    let out = run(&db, &stripe, &["stripe", "check", "--stripe-timeout", "1s"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("no complete answer"), "{out:?}");
}

#[test]
fn the_key_comes_from_a_private_file_or_the_environment_only() {
    let db = ledger(0);
    let stripe = healthy_stripe();
    let dir = test_dir(&db);
    let file = dir.join("stripe.key");
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let with_file = |mode: u32| {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        credits_with_env(
            &[
                "stripe",
                "check",
                "--stripe-key-file",
                file.to_str().unwrap(),
            ],
            &[
                ("DATABASE_URL", &db.url),
                ("STRIPE_API_BASE", &stripe.base),
                ("STRIPE_API_KEY", ""),
            ],
        )
    };
    let exposed = with_file(0o644);
    assert_eq!(exposed.code, 2, "{exposed:?}");
    assert!(exposed.stderr.contains("chmod 600"), "{exposed:?}");
    let private = with_file(0o600);
    assert_eq!(private.code, 0, "{private:?}");
    assert!(!private.stdout.contains(KEY) && !private.stderr.contains(KEY));

    let none = run_with_key(&db, &stripe, "", &["stripe", "check"]);
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.contains("STRIPE_API_KEY"), "{none:?}");
    let publishable = run_with_key(&db, &stripe, "pk_test_51Publishable", &["stripe", "check"]);
    assert_eq!(publishable.code, 2, "{publishable:?}");
    assert!(
        !publishable.stderr.contains("pk_test_51Publishable"),
        "{publishable:?}"
    );
    // No option takes the key itself.
    let flag = run(&db, &stripe, &["stripe", "check", "--stripe-key", KEY]);
    assert_eq!(flag.code, 2, "{flag:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plain_http_is_refused_off_this_machine_and_old_windows_refused() {
    let db = ledger(0);
    let out = credits_with_env(
        &["stripe", "check"],
        &[
            ("DATABASE_URL", &db.url),
            ("STRIPE_API_BASE", "http://api.example.com"),
            ("STRIPE_API_KEY", KEY),
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("plain http"), "{out:?}");
    let stripe = healthy_stripe();
    let out = run(&db, &stripe, &["stripe", "check", "--since", "31d"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("30 days"), "{out:?}");
    assert!(stripe.requests("/v1/webhook_endpoints").is_empty());
}

/// A directory of this test's own (the database's name is unique).
fn test_dir(db: &TestDb) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("credits-stripe-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn health_counts_the_events_stripe_could_not_deliver_when_a_key_is_set() {
    let db = TestDb::healthy();
    let stripe = FakeStripe::start(webhook_seed(
        vec![endpoint("we_app", WEBHOOK_URL, "enabled", &["*"], None)],
        vec![
            event(
                "evt_lost1",
                "payment_intent.succeeded",
                "pi_ok1",
                now() - 3600,
                false,
            ),
            event(
                "evt_lost2",
                "checkout.session.async_payment_succeeded",
                "pi_ok2",
                now() - 1800,
                false,
            ),
            event(
                "evt_fine",
                "payment_intent.succeeded",
                "pi_ok1",
                now() - 1200,
                true,
            ),
        ],
    ));
    let prom = test_dir(&db).join("credits.prom");
    let out = run(
        &db,
        &stripe,
        &["health", "--prometheus-file", prom.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "WARNING: {out:?}");
    assert!(
        out.stdout
            .starts_with("CREDITS WARNING - 2 stripe undelivered events |"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains(" stripe_undelivered_events=2;1;10"),
        "{out:?}"
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("\ncredits_stripe_undelivered_events 2\n"),
        "{text}"
    );

    // Without a key, health does not ask Stripe and has no such metric.
    let before = stripe.requests("/v1/events").len();
    let out = run_with_key(&db, &stripe, "", &["health"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("stripe_undelivered_events"), "{out:?}");
    assert_eq!(stripe.requests("/v1/events").len(), before);

    // The key from a private file works as well as from the environment.
    let key_file = prom.with_file_name("stripe.key");
    std::fs::write(&key_file, KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run_with_key(
        &db,
        &stripe,
        "",
        &["health", "--stripe-key-file", key_file.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains(" stripe_undelivered_events=2;1;10"),
        "{out:?}"
    );

    // A key Stripe refuses makes health UNKNOWN, without printing it.
    let wrong = "sk_test_51RefusedByTheFakeStripe0000";
    let out = run_with_key(&db, &stripe, wrong, &["health"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.starts_with("CREDITS UNKNOWN - "), "{out:?}");
    assert!(out.stdout.contains("the Stripe key was refused"), "{out:?}");
    assert!(
        !out.stdout.contains(wrong) && !out.stderr.contains(wrong),
        "{out:?}"
    );
    std::fs::remove_dir_all(prom.parent().unwrap()).unwrap();
}

/// `retry-failed --verify-with-stripe`: Stripe's word decides. Failed and
/// stuck recharges whose payments Stripe shows in every state; only the
/// paid ones, for their price, in the key's mode, are credited, once, and
/// a stored success event Stripe contradicts (a refund) credits nothing.
#[test]
fn retry_failed_verified_with_stripe_credits_exactly_the_paid_recharges_once() {
    let db = TestDb::new();
    let cases = [
        // (recharge id suffix, status, payment intent, price)
        ("11", "failed", "pi_v_paid", 999),
        ("12", "pending", "pi_v_pending_paid", 999),
        ("13", "failed", "pi_v_refunded", 999),
        ("14", "failed", "pi_v_partly_refunded", 999),
        ("15", "failed", "pi_v_disputed", 999),
        ("16", "failed", "pi_v_live", 999),
        ("17", "failed", "pi_v_unpaid", 999),
        ("18", "failed", "pi_v_other_amount", 999),
        ("19", "failed", "pi_v_unknown", 999),
    ];
    let values: Vec<String> = cases
        .iter()
        .map(|(n, status, pi, price)| {
            format!(
                "('00000000-0000-4000-8000-0000000000{n}', '{USER}', 100, '{status}', '{pi}', {price}, 'usd', now() - interval '2 hours')"
            )
        })
        .collect();
    db.client()
        .batch_execute(&format!(
            "ALTER TABLE credit_recharge ADD COLUMN price int, ADD COLUMN currency text;
             INSERT INTO auth.users (id, email) VALUES ('{USER}', 'payer@example.com');
             INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, price, currency, created_at) VALUES {};
             -- The database's own evidence for the refunded one: Stripe's refund must win.
             INSERT INTO stripe_webhook_event (id, type, payment_intent_id, payload, status)
               VALUES ('evt_v_refunded', 'payment_intent.succeeded', 'pi_v_refunded', '{{}}', 'failed');",
            values.join(", ")
        ))
        .unwrap();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");

    let at = now() - 7200;
    let paid = |id: &str, amount: i64, refunded: i64| {
        payment_intent(id, "succeeded", amount, "usd", at, json!({}), refunded)
    };
    let mut disputed = paid("pi_v_disputed", 999, 0);
    disputed["latest_charge"]["disputed"] = json!(true);
    let mut live = paid("pi_v_live", 999, 0);
    live["livemode"] = json!(true);
    let stripe = FakeStripe::start(Seed {
        payment_intents: vec![
            paid("pi_v_paid", 999, 0),
            paid("pi_v_pending_paid", 999, 0),
            paid("pi_v_refunded", 999, 999),
            paid("pi_v_partly_refunded", 999, 100),
            disputed,
            live,
            payment_intent(
                "pi_v_unpaid",
                "requires_payment_method",
                999,
                "usd",
                at,
                json!({}),
                0,
            ),
            paid("pi_v_other_amount", 499, 0),
        ],
        ..Seed::default()
    });

    let args = [
        "retry-failed",
        "--include-pending",
        "--verify-with-stripe",
        "--yes",
        "--output",
        "json",
    ];
    let first = run(&db, &stripe, &args);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(credited(&db), ["pi_v_paid", "pi_v_pending_paid"]);
    let report = first.json();
    assert_eq!(report["credited"], 2, "{report}");
    assert_eq!(report["not_paid_in_stripe"], 7, "{report}");
    assert_eq!(report["stripe_mode"], "test");
    for row in report["recharges"].as_array().unwrap() {
        let pi = row["payment_intent_id"].as_str().unwrap();
        let expected = if pi == "pi_v_paid" || pi == "pi_v_pending_paid" {
            "credited"
        } else {
            "not_paid_in_stripe"
        };
        assert_eq!(row["action"], expected, "{row}");
    }
    // The audit row names Stripe and the request its answer came in.
    let evidence: Vec<String> = db
        .client()
        .query(
            "SELECT detail ->> 'evidence' FROM credits_ops.repair_log WHERE action = 'credited'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(evidence.len(), 2);
    assert!(
        evidence
            .iter()
            .all(|e| e.starts_with("stripe api: succeeded") && e.contains("request req_")),
        "{evidence:?}"
    );
    assert!(!first.stdout.contains(KEY) && !first.stderr.contains(KEY));

    let again = run(&db, &stripe, &args);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["credited"], 0, "{again:?}");
    assert_eq!(credited(&db), ["pi_v_paid", "pi_v_pending_paid"]);
    assert_eq!(db.violations(), vec![]);
}

/// `retry-failed --stripe-export`: without a key, a Dashboard export is the
/// evidence. What it shows paid is credited (audited with the file's
/// SHA-256), what it shows refunded is not (even with a stored success
/// event), and what it does not hold stays as the database has it.
#[test]
fn retry_failed_with_a_dashboard_export_credits_what_it_shows_paid() {
    let db = TestDb::new();
    db.client()
        .batch_execute(&format!(
            "ALTER TABLE credit_recharge ADD COLUMN price int, ADD COLUMN currency text;
             INSERT INTO auth.users (id, email) VALUES ('{USER}', 'payer@example.com');
             INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, price, currency, created_at) VALUES
               ('00000000-0000-4000-8000-000000000021', '{USER}', 100, 'failed', 'pi_x_paid', 999, 'usd', now() - interval '2 hours'),
               ('00000000-0000-4000-8000-000000000022', '{USER}', 100, 'failed', 'pi_x_refunded', 999, 'usd', now() - interval '2 hours'),
               ('00000000-0000-4000-8000-000000000023', '{USER}', 100, 'failed', 'pi_x_absent', 999, 'usd', now() - interval '2 hours');
             INSERT INTO stripe_webhook_event (id, type, payment_intent_id, payload, status)
               VALUES ('evt_x_refunded', 'payment_intent.succeeded', 'pi_x_refunded', '{{}}', 'failed');"
        ))
        .unwrap();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let dir = test_dir(&db);
    let path = dir.join("payments.csv");
    std::fs::write(
        &path,
        "id,Created date (UTC),Amount,Amount Refunded,Currency,Status,PaymentIntent ID,Customer Email\n\
         ch_x1,2026-11-30 10:00:00,\"9,99\",\"0,00\",usd,Paid,pi_x_paid,payer@example.com\n\
         ch_x2,2026-11-30 10:01:00,9.99,9.99,usd,Refunded,pi_x_refunded,payer@example.com\n",
    )
    .unwrap();
    let sha256: String = Sha256::digest(std::fs::read(&path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let args = [
        "retry-failed",
        "--stripe-export",
        path.to_str().unwrap(),
        "--yes",
        "--output",
        "json",
    ];
    let first = db.credits(&args);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(credited(&db), ["pi_x_paid"]);
    let report = first.json();
    let action = |pi: &str| {
        report["recharges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["payment_intent_id"] == pi)
            .map(|r| r["action"].clone())
    };
    assert_eq!(action("pi_x_paid"), Some(json!("credited")));
    assert_eq!(action("pi_x_refunded"), Some(json!("not_paid_in_stripe")));
    assert_eq!(action("pi_x_absent"), Some(json!("no_evidence")));
    let evidence: String = db
        .client()
        .query_one(
            "SELECT detail ->> 'evidence' FROM credits_ops.repair_log WHERE action = 'credited'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        evidence.contains(&format!("sha256 {sha256}")) && evidence.contains("payments.csv"),
        "{evidence}"
    );
    let again = db.credits(&args);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(credited(&db), ["pi_x_paid"]);
}

/// `fix-user` and `bulk-fix --verify-with-stripe`: a completed recharge
/// without its credit is credited only when Stripe shows it paid; one Stripe
/// shows refunded is left uncredited and reported.
#[test]
fn fix_user_and_bulk_fix_verified_with_stripe_credit_only_what_stripe_shows_paid() {
    const OTHER: &str = "00000000-0000-4000-8000-0000000000bb";
    let db = TestDb::new();
    db.client()
        .batch_execute(&format!(
            "INSERT INTO auth.users (id, email) VALUES ('{USER}', 'payer@example.com'), ('{OTHER}', 'other@example.com');
             INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, created_at) VALUES
               ('00000000-0000-4000-8000-000000000031', '{USER}', 100, 'completed', 'pi_c_paid', now() - interval '2 hours'),
               ('00000000-0000-4000-8000-000000000032', '{USER}', 100, 'completed', 'pi_c_refunded', now() - interval '2 hours'),
               ('00000000-0000-4000-8000-000000000033', '{OTHER}', 100, 'completed', 'pi_c_paid_too', now() - interval '2 hours');"
        ))
        .unwrap();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let at = now() - 7200;
    let stripe = FakeStripe::start(Seed {
        payment_intents: vec![
            payment_intent("pi_c_paid", "succeeded", 999, "usd", at, json!({}), 0),
            payment_intent("pi_c_refunded", "succeeded", 999, "usd", at, json!({}), 999),
            payment_intent("pi_c_paid_too", "succeeded", 999, "usd", at, json!({}), 0),
        ],
        ..Seed::default()
    });

    let one = run(
        &db,
        &stripe,
        &[
            "fix-user",
            USER,
            "--verify-with-stripe",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_eq!(one.code, 0, "{one:?}");
    assert_eq!(credited(&db), ["pi_c_paid"]);
    let actions: Vec<(String, String)> = one.json()["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["recharge_id"].is_null())
        .map(|a| {
            (
                a["recharge_id"].as_str().unwrap().to_string(),
                a["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&(
            "00000000-0000-4000-8000-000000000031".into(),
            "credited".into()
        )) && actions.contains(&(
            "00000000-0000-4000-8000-000000000032".into(),
            "not_paid_in_stripe".into()
        )),
        "{actions:?}"
    );
    let evidence: String = db
        .client()
        .query_one(
            "SELECT detail ->> 'evidence' FROM credits_ops.repair_log WHERE action = 'credited'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        evidence.starts_with("recharge completed by the app; stripe api: succeeded")
            && evidence.contains("request req_"),
        "{evidence}"
    );

    let all = run(
        &db,
        &stripe,
        &[
            "bulk-fix",
            "--verify-with-stripe",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_eq!(all.code, 0, "{all:?}");
    assert_eq!(credited(&db), ["pi_c_paid", "pi_c_paid_too"]);
    assert_eq!(all.json()["not_paid_in_stripe"], 1, "{all:?}");
    let again = run(&db, &stripe, &["bulk-fix", "--verify-with-stripe", "--yes"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(credited(&db), ["pi_c_paid", "pi_c_paid_too"]);
}

/// A payment whose own metadata names no recharge, and whose recharge does
/// not store its payment intent, is matched through its Checkout Session.
#[test]
fn reconcile_matches_a_payment_through_its_checkout_session() {
    let db = TestDb::new();
    db.client()
        .batch_execute(&format!(
            "INSERT INTO auth.users (id, email) VALUES ('{USER}', 'payer@example.com');
             INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, created_at) VALUES
               ('00000000-0000-4000-8000-000000000041', '{USER}', 100, 'pending', NULL, now() - interval '2 hours');"
        ))
        .unwrap();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let payment = payment_intent(
        "pi_cs_only",
        "succeeded",
        999,
        "usd",
        now() - 7000,
        json!({}),
        0,
    );
    let session = json!({
        "id": "cs_test_1", "object": "checkout.session", "payment_intent": "pi_cs_only",
        "payment_status": "paid", "mode": "payment", "created": now() - 7000,
        "client_reference_id": null,
        "metadata": {"rechargeId": "00000000-0000-4000-8000-000000000041"}
    });
    let reconcile = |sessions: Vec<Value>| {
        let stripe = FakeStripe::start(Seed {
            payment_intents: vec![payment.clone()],
            checkout_sessions: sessions,
            ..Seed::default()
        });
        run(
            &db,
            &stripe,
            &["stripe", "reconcile", "--since", "1d", "--output", "json"],
        )
    };

    let without = reconcile(Vec::new());
    assert_eq!(without.code, 1, "{without:?}");
    assert!(
        finding(&without.json(), "PAYMENT_WITHOUT_RECHARGE", "pi_cs_only").is_some(),
        "{without:?}"
    );
    let with = reconcile(vec![session]);
    assert_eq!(with.code, 1, "{with:?}");
    let json = with.json();
    let paid = finding(&json, "PAID_NOT_CREDITED", "pi_cs_only").expect("matched by the session");
    assert_eq!(paid["recharge_id"], "00000000-0000-4000-8000-000000000041");
    assert!(finding(&json, "PAYMENT_WITHOUT_RECHARGE", "pi_cs_only").is_none());
}

/// The payment intents of the recharges the ledger credits, in order.
fn credited(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT r.payment_intent_id FROM credit_transaction t \
             JOIN credit_recharge r ON r.id = t.related_recharge_id \
             WHERE t.type = 'recharge' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}
