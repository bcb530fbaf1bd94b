use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::{Run, TestDb};

/// Checks about the whole system rather than one payment or user.
const SYSTEM_CHECKS: &[&str] = &[
    "RLS_DISABLED",
    "RLS_NO_POLICY",
    "WEBHOOK_EVENT_FAILED",
    "WEBHOOK_SILENT",
];

fn findings(run: &Run) -> Vec<Value> {
    run.json()["findings"].as_array().unwrap().clone()
}

/// The ids the generator planted for each kind: recharge ids, or user ids
/// for the per-user kinds.
fn expected(db: &TestDb) -> BTreeMap<String, BTreeSet<String>> {
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in db
        .client()
        .query(
            "SELECT kind, coalesce(recharge_id, user_id)::text FROM credits_demo.expected_finding",
            &[],
        )
        .unwrap()
    {
        expected.entry(row.get(0)).or_default().insert(row.get(1));
    }
    expected
}

fn found(findings: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for finding in findings {
        let check = finding["check"].as_str().unwrap().to_string();
        if SYSTEM_CHECKS.contains(&check.as_str()) {
            continue;
        }
        let id = finding["recharge_id"]
            .as_str()
            .or(finding["user_id"].as_str())
            .unwrap()
            .to_string();
        found.entry(check).or_default().insert(id);
    }
    found
}

#[test]
fn debug_finds_exactly_what_the_incident_planted() {
    let (db, planted) = TestDb::installed_incident(3000, 300);
    let run = db.credits(&["debug", "--output", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let findings = findings(&run);
    let expected = expected(&db);
    let found = found(&findings);

    for (kind, count) in &planted {
        if *count > 0 && kind.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            let summary = run.json()["summary"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["check"] == *kind)
                .cloned();
            assert_eq!(summary.unwrap()["count"], *count, "summary count of {kind}");
        }
    }
    assert_eq!(found, expected, "each check finds exactly the planted ids");

    // Nothing for healthy users: every finding about a user is about one
    // the generator broke on purpose.
    let broken_users: BTreeSet<String> = db
        .client()
        .query(
            "SELECT DISTINCT coalesce(f.user_id, r.user_id)::text FROM credits_demo.expected_finding f \
             LEFT JOIN credit_recharge r ON r.id = f.recharge_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for finding in &findings {
        if let Some(user) = finding["user_id"].as_str() {
            assert!(
                broken_users.contains(user),
                "finding about a healthy user: {finding}"
            );
        }
        if let Some(pi) = finding["payment_intent_id"].as_str() {
            assert_eq!(
                finding["dashboard_url"],
                format!("https://dashboard.stripe.com/payments/{pi}")
            );
        }
    }
    // The reference schema starts with RLS off on all five credits tables.
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["check"] == "RLS_DISABLED")
            .count(),
        5
    );
}

#[test]
fn the_view_agrees_with_the_checks() {
    let (db, _) = TestDb::installed_incident(2000, 200);
    let run = db.credits(&["debug", "--output", "json"]);
    let found = found(&findings(&run));
    let mut by_recharge: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (check, ids) in &found {
        for id in ids {
            by_recharge
                .entry(id.clone())
                .or_default()
                .insert(check.clone());
        }
    }
    let rows = db
        .client()
        .query(
            "SELECT recharge_id::text, category FROM credits_ops.payment_credit_status",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2000, "one row per recharge");
    for row in rows {
        let (recharge, category): (String, String) = (row.get(0), row.get(1));
        let checks = by_recharge.get(&recharge).cloned().unwrap_or_default();
        match category.as_str() {
            "SUCCESS" | "PROCESSING" | "CANCELED" | "REFUNDED" => {
                assert!(
                    checks.is_empty(),
                    "{recharge} is {category} in the view but debug found {checks:?}"
                )
            }
            problem => assert!(
                checks.contains(problem),
                "{recharge} is {problem} in the view, debug found {checks:?}"
            ),
        }
    }
}

/// debug runs the checks over facts that leave out plainly credited
/// recharges (sql/debug/facts.sql); a DBA runs a check file alone, in psql,
/// over the whole views. Both must find the same, or a check flags what the
/// statement never shows it.
#[test]
fn each_check_run_alone_in_psql_finds_what_debug_finds() {
    let (db, _) = TestDb::installed_incident(2000, 200);
    let run = db.credits(&["debug", "--output", "json"]);
    type Key = (Option<String>, Option<String>, Option<String>);
    let mut from_debug: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    for f in findings(&run) {
        let id = |key: &str| f[key].as_str().map(str::to_string);
        from_debug
            .entry(f["check"].as_str().unwrap().to_string())
            .or_default()
            .insert((id("recharge_id"), id("user_id"), id("detail")));
    }
    let mut client = db.client();
    client
        .batch_execute("SET search_path = credits_ops, public")
        .unwrap();
    let mut checked = 0;
    for check in credits::checks::catalogue().unwrap() {
        let name = &check.name;
        // `-- requires: relation = ...`: debug skips the check without it.
        let absent = check.requires.iter().any(|required| {
            let relation = required.split(" = ").next().unwrap().trim();
            let found: Option<String> = client
                .query_one("SELECT to_regclass($1)::text", &[&relation])
                .unwrap()
                .get(0);
            found.is_none()
        });
        if absent {
            assert!(
                !from_debug.contains_key(name),
                "{name} ran without its relation"
            );
            continue;
        }
        let rows = client
            .query(check.sql.trim().trim_end_matches(';'), &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let alone: BTreeSet<Key> = rows
            .iter()
            .map(|row| {
                (
                    row.get("recharge_id"),
                    row.get("user_id"),
                    row.get("detail"),
                )
            })
            .collect();
        let in_debug = from_debug.get(name).cloned().unwrap_or_default();
        assert_eq!(alone.len(), rows.len(), "{name}: one row per finding");
        assert_eq!(alone, in_debug, "{name}: alone in psql vs in debug");
        checked += usize::from(!alone.is_empty());
    }
    assert!(checked >= 8, "only {checked} checks found anything");
}

#[test]
fn a_healthy_database_passes_every_check() {
    let db = TestDb::healthy();
    let run = db.credits(&["debug"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("checks passed"), "{run:?}");
    let json = db.credits(&["debug", "--output", "json"]);
    assert_eq!(json.json()["problems"], 0);
    // Tables without any policy are reported, as information only.
    assert!(
        findings(&json)
            .iter()
            .all(|f| f["check"] == "RLS_NO_POLICY"),
        "{json:?}"
    );
}

#[test]
fn debug_by_email_user_id_and_payment_intent_narrows_to_one_user() {
    let (db, _) = TestDb::installed_incident(1000, 100);
    let row = db
        .client()
        .query_one(
            "SELECT r.user_id::text, u.email, r.payment_intent_id FROM credits_demo.expected_finding f \
             JOIN credit_recharge r ON r.id = f.recharge_id JOIN auth.users u ON u.id = r.user_id \
             WHERE f.kind = 'FAILED_PAID' ORDER BY r.id LIMIT 1",
            &[],
        )
        .unwrap();
    let (user, email, pi): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let by_id = findings(&db.credits(&["debug", "--output", "json", "--user", &user]));
    let by_email =
        findings(&db.credits(&["debug", "--output", "json", "--user", &email.to_uppercase()]));
    assert!(!by_id.is_empty());
    assert_eq!(by_id, by_email);
    let system = |f: &&Value| SYSTEM_CHECKS.contains(&f["check"].as_str().unwrap());
    assert!(
        by_id
            .iter()
            .filter(|f| !system(f))
            .all(|f| f["user_id"] == user.as_str()),
        "{by_id:?}"
    );

    let by_pi = findings(&db.credits(&["debug", "--output", "json", "--payment-intent", &pi]));
    let per_payment: Vec<&Value> = by_pi
        .iter()
        .filter(|f| f["recharge_id"].is_string())
        .collect();
    assert!(
        per_payment.iter().any(|f| f["check"] == "FAILED_PAID"),
        "{by_pi:?}"
    );
    assert!(
        per_payment
            .iter()
            .all(|f| f["payment_intent_id"] == pi.as_str()),
        "{by_pi:?}"
    );
}

#[test]
fn bad_scopes_are_usage_errors() {
    let (db, _) = TestDb::installed_incident(1000, 100);
    for args in [
        &["debug", "--user", "00000000-0000-4000-8000-00000000dead"][..],
        &["debug", "--user", "nobody@example.com"],
        &["debug", "--user", "x' OR '1'='1"],
        &[
            "debug",
            "--payment-intent",
            "pi_'; DROP TABLE credit_recharge; --",
        ],
        &["debug", "--since", "2999-01-01"],
        &["debug", "--since", "last tuesday"],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    let recharges: i64 = db
        .client()
        .query_one("SELECT count(*) FROM credit_recharge", &[])
        .unwrap()
        .get(0);
    assert_eq!(recharges, 1000);
}

#[test]
fn debug_needs_the_install_and_writes_nothing() {
    let (db, _) = TestDb::with_incident(1000, 100);
    let before = db.fingerprint();
    let run = db.credits(&["debug"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("credits install"), "{run:?}");
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let installed = db.fingerprint();
    for format in ["table", "json", "csv"] {
        assert_eq!(db.credits(&["debug", "--all", "--output", format]).code, 1);
    }
    assert_eq!(db.fingerprint(), installed, "debug is read-only");
    assert_ne!(before, installed);
}

#[test]
fn checks_needing_an_absent_optional_table_are_skipped_and_evidence_falls_back() {
    let (db, planted) = TestDb::installed_incident(1000, 100);
    db.client()
        .batch_execute("DROP TABLE stripe_webhook_event CASCADE")
        .unwrap();
    // The app changed: install rebuilds the adapter for it.
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let run = db.credits(&["debug", "--output", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let summary = run.json()["summary"].as_array().unwrap().clone();
    for check in ["WEBHOOK_EVENT_FAILED", "WEBHOOK_SILENT"] {
        let row = summary.iter().find(|s| s["check"] == check).unwrap();
        assert_eq!(row["status"], "skipped", "{row}");
    }
    // Without stored events only the synced payment intents prove payment.
    let failed_paid = summary
        .iter()
        .find(|s| s["check"] == "FAILED_PAID")
        .unwrap()["count"]
        .as_i64()
        .unwrap();
    let planted_paid = planted.iter().find(|(k, _)| k == "FAILED_PAID").unwrap().1 as i64;
    let synced: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_demo.expected_finding f JOIN credit_recharge r ON r.id = f.recharge_id \
             JOIN stripe.payment_intents p ON p.id = r.payment_intent_id AND p.status = 'succeeded' \
             WHERE f.kind = 'FAILED_PAID'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed_paid, synced);
    assert!(
        synced < planted_paid,
        "some evidence lived only in webhook events"
    );
}

#[test]
fn one_users_diagnosis_leaves_out_what_is_about_the_whole_database() {
    let (db, _) = TestDb::installed_incident(1000, 100);
    let whole = db.credits(&["debug", "--output", "json"]).json();
    let email = db.planted("MISSING_TRANSACTION").email;
    let one = db.credits(&["debug", "--user", &email, "--output", "json"]);
    let status = |json: &Value, check: &str| {
        json["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["check"] == check)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&whole, "RLS_DISABLED"), "found");
    for check in ["RLS_DISABLED", "RLS_NO_POLICY", "WEBHOOK_SILENT"] {
        assert_eq!(status(&one.json(), check), "skipped", "{check}: {one:?}");
    }
    assert_eq!(status(&one.json(), "MISSING_TRANSACTION"), "found");
}
