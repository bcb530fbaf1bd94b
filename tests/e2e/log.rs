//! `credits log`: the audit log, newest first, with its filters.

use serde_json::Value;

use crate::harness::{Run, TestDb};

/// An installed incident database after one user was repaired (`INC-9`, by
/// alice) and sales were paused (`INC-10`): (db, user id, email, payment intent).
fn audited_incident() -> (TestDb, String, String, String) {
    let (db, _) = TestDb::with_incident(1000, 100);
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let planted = db.planted("MISSING_TRANSACTION");
    let (user, email) = (planted.user, planted.email);
    let pi = planted
        .payment_intent
        .expect("a planted missing transaction has a payment intent");
    let fix = db.credits(&[
        "fix-user",
        &user,
        "--yes",
        "--reason",
        "INC-9",
        "--operator",
        "alice",
    ]);
    assert_eq!(fix.code, 0, "{fix:?}");
    let pause = db.credits(&["pause-packages", "--yes", "--reason", "INC-10"]);
    assert_eq!(pause.code, 0, "{pause:?}");
    (db, user, email, pi)
}

fn log(db: &TestDb, args: &[&str]) -> Run {
    let mut all = vec!["log", "--output", "json"];
    all.extend_from_slice(args);
    db.credits(&all)
}

fn entries(run: &Run) -> Vec<Value> {
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert_eq!(json["command"], "log", "{run:?}");
    json["entries"].as_array().unwrap().clone()
}

fn text(entry: &Value, key: &str) -> String {
    entry[key].as_str().unwrap_or_default().to_string()
}

#[test]
fn log_lists_repairs_and_pauses_newest_first_and_filters_them() {
    let (db, user, email, pi) = audited_incident();
    let before = db.fingerprint();

    // Everything, newest first, in the order the database wrote it.
    let all = entries(&log(&db, &[]));
    let expected: Vec<(String, String)> = db
        .client()
        .query(
            "SELECT action, coalesce(reason, '') FROM credits_ops.repair_log ORDER BY logged_at DESC, id DESC",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(expected.len() < 50, "the default --limit shows them all");
    let listed: Vec<(String, String)> = all
        .iter()
        .map(|e| (text(e, "action"), text(e, "reason")))
        .collect();
    assert_eq!(listed, expected);
    let pauses = all
        .iter()
        .filter(|e| e["action"] == "pause_package")
        .count();
    assert_eq!(pauses, 3, "one row per package taken off sale");
    assert!(
        all.iter()
            .take(pauses)
            .all(|e| e["action"] == "pause_package"),
        "the pause, made last, comes first: {all:#?}"
    );
    assert!(all.iter().any(|e| e["action"] == "credited"), "{all:#?}");
    let times: Vec<String> = all.iter().map(|e| text(e, "logged_at")).collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Stable field names; detail is a JSON value, not text.
    for entry in &all {
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "action",
                "balance_after",
                "balance_before",
                "command",
                "credits_delta",
                "detail",
                "logged_at",
                "operator",
                "reason",
                "recharge_id",
                "user_id",
            ]
        );
    }
    let pause = &all[0];
    assert_eq!(pause["command"], "pause-packages");
    assert_eq!(pause["reason"], "INC-10");
    assert!(pause["user_id"].is_null());
    assert!(pause["detail"]["package_id"].is_string(), "{pause:#}");
    assert!(pause["detail"]["pause_id"].is_i64(), "{pause:#}");

    // --user by id, email and payment intent: the same entries, only theirs.
    let mine = entries(&log(&db, &["--user", &user]));
    assert_eq!(entries(&log(&db, &["--user", &email])), mine, "by email");
    assert_eq!(
        entries(&log(&db, &["--user", &pi])),
        mine,
        "by payment intent"
    );
    let theirs: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_ops.repair_log WHERE user_id = $1::text",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert!(theirs > 0);
    assert_eq!(mine.len() as i64, theirs);
    for entry in &mine {
        assert_eq!(entry["user_id"], user.as_str());
        assert_eq!(entry["operator"], "alice");
        assert_eq!(entry["reason"], "INC-9");
        assert_eq!(entry["command"], "fix-user");
    }
    assert!(
        mine.iter()
            .any(|e| e["action"] == "credited" && e["detail"]["payment_intent_id"] == pi.as_str()),
        "{mine:#?}"
    );

    // --reason is an exact match.
    let inc10 = entries(&log(&db, &["--reason", "INC-10"]));
    assert_eq!(inc10.len(), 3);
    assert!(inc10.iter().all(|e| e["action"] == "pause_package"));
    assert!(entries(&log(&db, &["--reason", "INC-1"])).is_empty());

    // --action is an exact match; a credit moves the balance by its delta.
    let credited = entries(&log(&db, &["--action", "credited"]));
    assert!(!credited.is_empty());
    for entry in &credited {
        assert_eq!(entry["action"], "credited");
        let (before, after, delta) = (
            entry["balance_before"].as_i64().unwrap(),
            entry["balance_after"].as_i64().unwrap(),
            entry["credits_delta"].as_i64().unwrap(),
        );
        assert_eq!(after - before, delta, "{entry:#}");
    }
    // Filters combine.
    assert!(entries(&log(&db, &["--action", "credited", "--reason", "INC-10"])).is_empty());

    // --limit 1: the newest entry only, and a note that more match.
    let one = log(&db, &["--limit", "1"]);
    assert_eq!(entries(&one), all[..1].to_vec());
    assert!(one.stderr.contains("--all"), "{one:?}");
    assert_eq!(entries(&log(&db, &["--all"])), all);

    // Tables and CSV carry detail as JSON text.
    let table = db.credits(&["log", "--reason", "INC-10"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("pause_package"), "{table:?}");
    assert!(table.stdout.contains(r#""pause_id""#), "{table:?}");
    let csv = db.credits(&["log", "--output", "csv", "--reason", "INC-10"]);
    assert_eq!(csv.code, 0, "{csv:?}");
    assert!(
        csv.stdout.starts_with(
            "logged_at,operator,reason,command,action,recharge_id,user_id,credits_delta,balance_before,balance_after,detail\n"
        ),
        "{csv:?}"
    );
    assert_eq!(csv.stdout.matches("pause_package").count(), 3, "{csv:?}");

    // A start in the future is a usage error, not an empty log.
    let future = log(&db, &["--since", "2999-01-01"]);
    assert_eq!(future.code, 2, "{future:?}");
    assert!(future.stdout.is_empty(), "{future:?}");

    assert_eq!(db.fingerprint(), before, "credits log writes nothing");
}

#[test]
fn log_refuses_bad_filters_and_says_none_when_empty() {
    let db = TestDb::new();
    let not_installed = db.credits(&["log"]);
    assert_eq!(not_installed.code, 4, "{not_installed:?}");
    assert!(
        not_installed.stderr.contains("credits install"),
        "{not_installed:?}"
    );

    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let before = db.fingerprint();

    let empty = db.credits(&["log"]);
    assert_eq!(empty.code, 0, "{empty:?}");
    assert!(empty.stdout.contains("(none)"), "{empty:?}");
    assert!(!empty.stderr.is_empty(), "a note says nothing matched");
    assert!(entries(&log(&db, &[])).is_empty());

    for bad in [
        &["--since", "yesterday-ish"][..],
        &["--since", "2999-01-01"],
        &["--user", "00000000-0000-4000-8000-00000000dead"],
        &["--user", "nobody@example.com"],
        &["--user", "pi_unknown"],
        &["--user", "not-a-user"],
        &["--limit", "0"],
        &["--limit", "5", "--all"],
    ] {
        let run = log(&db, bad);
        assert_eq!(run.code, 2, "{bad:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{bad:?}: {run:?}");
    }
    assert_eq!(db.fingerprint(), before, "credits log writes nothing");
}
