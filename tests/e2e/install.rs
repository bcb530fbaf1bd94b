use std::thread;

use crate::harness::TestDb;

fn applied_versions(db: &TestDb) -> Vec<i32> {
    db.client()
        .query(
            "SELECT version FROM credits_ops.schema_history ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

fn embedded_versions() -> Vec<i32> {
    credits::migrations::embedded()
        .unwrap()
        .iter()
        .map(|m| m.version)
        .collect()
}

fn actions(run: &crate::harness::Run) -> Vec<String> {
    run.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn install_twice_applies_everything_once() {
    let db = TestDb::new();
    let first = db.credits(&["install", "--yes", "--reason", "test", "--output", "json"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(actions(&first), vec!["applied"; embedded_versions().len()]);
    assert_eq!(applied_versions(&db), embedded_versions());
    let index_valid: bool = db
        .client()
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.credits_transaction_recharge_idx'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(index_valid, "the concurrently built index is valid");

    let before = db.fingerprint();
    let second = db.credits(&["install", "--yes", "--output", "json"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(actions(&second).is_empty(), "{second:?}");
    assert!(second.stderr.contains("nothing to apply"), "{second:?}");
    assert_eq!(db.fingerprint(), before, "a second install changes nothing");

    let row = db
        .client()
        .query_one("SELECT applied_by, reason, length(checksum) FROM credits_ops.schema_history WHERE version = 1", &[])
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("test"));
    assert_eq!(row.get::<_, i32>(2), 64, "a sha-256 in hex");
}

#[test]
fn dry_run_lists_the_plan_and_writes_nothing() {
    let (db, _) = TestDb::with_incident(1000, 100);
    let before = db.fingerprint();
    let run = db.credits(&["install", "--dry-run", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    // The incident has double credits, so the unique index would be blocked.
    let mut expected = vec!["would apply"; embedded_versions().len()];
    let unique_index = embedded_versions().iter().position(|v| *v == 9).unwrap();
    expected[unique_index] = "would be blocked";
    assert_eq!(actions(&run), expected);
    assert_eq!(run.json()["dry_run"], true);
    assert_eq!(db.fingerprint(), before, "--dry-run wrote something");
}

#[test]
fn install_without_yes_and_without_a_terminal_refuses() {
    let db = TestDb::new();
    let before = db.fingerprint();
    let run = db.credits(&["install"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--yes"), "{run:?}");
    assert_eq!(db.fingerprint(), before);
}

#[test]
fn concurrent_installs_never_both_apply_a_version() {
    let db = TestDb::new();
    let runs: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| db.credits(&["install", "--yes", "--output", "json"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut applied_count = 0;
    for run in &runs {
        assert_eq!(run.code, 0, "{run:?}");
        applied_count += actions(run).iter().filter(|a| *a == "applied").count();
    }
    assert_eq!(
        applied_count,
        embedded_versions().len(),
        "each version applied by exactly one install"
    );
    assert_eq!(applied_versions(&db), embedded_versions());
}

#[test]
fn status_reports_pending_then_applied_then_drift() {
    let db = TestDb::new();
    let states = |run: &crate::harness::Run| -> Vec<String> {
        run.json()["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap().to_string())
            .collect()
    };
    let fresh = db.credits(&["status", "--output", "json"]);
    assert_eq!(fresh.code, 0, "{fresh:?}");
    // Every migration is pending but the optional one (V009), told apart so
    // that the hint never asks for what cannot succeed.
    let mut expected = vec!["pending"; embedded_versions().len()];
    let optional = embedded_versions().iter().position(|v| *v == 9).unwrap();
    expected[optional] = "optional, not applied";
    assert_eq!(states(&fresh), expected);
    assert_eq!(fresh.json()["pending"], embedded_versions().len() - 1);
    assert_eq!(fresh.json()["optional_not_applied"], 1);

    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let installed = db.credits(&["status", "--output", "json"]);
    assert_eq!(installed.code, 0, "{installed:?}");
    assert_eq!(
        states(&installed),
        vec!["applied"; embedded_versions().len()]
    );

    // What an edited migration file looks like from the database's side:
    // the recorded checksum no longer matches the binary's.
    let mut client = db.client();
    client
        .execute(
            "UPDATE credits_ops.schema_history SET checksum = repeat('0', 64) WHERE version = 1",
            &[],
        )
        .unwrap();
    client
        .execute(
            "INSERT INTO credits_ops.schema_history (version, name, checksum, applied_by, execution_ms) \
             VALUES (999, 'from_a_newer_binary', repeat('f', 64), 'someone', 1)",
            &[],
        )
        .unwrap();
    let drifted = db.credits(&["status", "--output", "json"]);
    assert_eq!(drifted.code, 1, "{drifted:?}");
    let states = states(&drifted);
    assert_eq!(states[0], "changed since applied");
    assert_eq!(states.last().unwrap(), "unknown to this binary");
    assert_eq!(drifted.json()["drift"], 1);

    let before = db.fingerprint();
    let refused = db.credits(&["install", "--yes"]);
    assert_eq!(refused.code, 1, "install refuses on drift: {refused:?}");
    assert!(refused.stderr.contains("V001"), "{refused:?}");
    assert_eq!(db.fingerprint(), before);
}

#[test]
fn the_unique_credit_index_is_built_where_it_can_be_and_listed_where_it_cannot() {
    let db = TestDb::new();
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let valid: bool = db
        .client()
        .query_one(
            "SELECT indisvalid AND indisunique FROM pg_index WHERE indexrelid = 'public.credits_one_recharge_credit'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
    let mut client = db.client();
    client
        .batch_execute(
            "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-4000-8000-0000000000cc', 'c@example.com'); \
             INSERT INTO credit_recharge (id, user_id, amount, status) VALUES \
               ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000cc', 100, 'completed'); \
             INSERT INTO credit_transaction (user_id, amount, type, related_recharge_id) VALUES \
               ('00000000-0000-4000-8000-0000000000cc', 100, 'recharge', '00000000-0000-4000-8000-0000000000c1');",
        )
        .unwrap();
    let second = client
        .batch_execute(
            "INSERT INTO credit_transaction (user_id, amount, type, related_recharge_id) VALUES \
               ('00000000-0000-4000-8000-0000000000cc', 100, 'recharge', '00000000-0000-4000-8000-0000000000c1')",
        )
        .unwrap_err();
    assert_eq!(
        second.code(),
        Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        "the database refuses a double credit"
    );

    let (incident, _) = TestDb::with_incident(1000, 100);
    let run = incident.credits(&["install", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let unique_index = embedded_versions().iter().position(|v| *v == 9).unwrap();
    assert_eq!(actions(&run)[unique_index], "blocked");
    assert!(
        run.stderr.contains("recharge transactions") && run.stderr.contains("DUPLICATE_CREDIT"),
        "{run:?}"
    );
    let absent: bool = incident
        .client()
        .query_one(
            "SELECT to_regclass('public.credits_one_recharge_credit') IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(absent, "no index, and no INVALID leftover");
    assert_eq!(
        incident.credits(&["debug"]).code,
        1,
        "every command works without the optional index"
    );
}

#[test]
fn an_install_that_would_fail_is_refused_whole_and_predicted_by_its_dry_run() {
    let db = TestDb::new();
    let dir = std::env::temp_dir().join(format!("credits-install-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("credits.toml");
    // An evidence condition that is not SQL: the adapter (V002) cannot be built.
    std::fs::write(
        &config,
        "[[evidence]]\ntable = \"stripe_webhook_event\"\npayment_intent_column = \"payment_intent_id\"\ncondition = \"status ===\"\n",
    )
    .unwrap();
    let before = db.fingerprint();
    for args in [&["install", "--dry-run"][..], &["install", "--yes"]] {
        let run = db.credits_mapped(args, Some(&config));
        assert_eq!(run.code, 4, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("V002 app_adapter would fail"),
            "{run:?}"
        );
        assert_eq!(db.fingerprint(), before, "{args:?} wrote something");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
