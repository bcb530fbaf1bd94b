//! `credits pause-packages`, `resume-packages` and `packages`.

use std::collections::BTreeMap;
use std::thread;

use serde_json::Value;

use crate::harness::{Run, TestDb};

const LEGACY: &str = "00000000-0000-4000-8000-000000000004";

fn installed() -> TestDb {
    let db = TestDb::new();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    db
}

/// is_active of every package, by name.
fn states(db: &TestDb) -> BTreeMap<String, bool> {
    db.client()
        .query("SELECT name, is_active FROM credit_package", &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn count(db: &TestDb, query: &str) -> i64 {
    db.client().query_one(query, &[]).unwrap().get(0)
}

fn actions(run: &Run) -> BTreeMap<String, String> {
    run.json()["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn active_ids(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT id::text FROM credit_package WHERE is_active ORDER BY id::text",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn the_reference_database_has_one_package_retired_on_purpose() {
    let db = TestDb::new();
    let states = states(&db);
    assert_eq!(states.len(), 4, "{states:?}");
    assert!(!states["Legacy 50"], "Legacy 50 is retired");
    assert_eq!(states.values().filter(|active| **active).count(), 3);
}

#[test]
fn pause_then_resume_restores_exactly_the_packages_on_sale() {
    let db = installed();
    let before = states(&db);
    let on_sale = active_ids(&db);
    assert_eq!(on_sale.len(), 3);

    let pause = db.credits(&[
        "pause-packages",
        "--yes",
        "--operator",
        "alice",
        "--reason",
        "INC-1 webhook down",
        "--output",
        "json",
    ]);
    assert_eq!(pause.code, 0, "{pause:?}");
    let json = pause.json();
    assert_eq!(json["command"], "pause-packages");
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["result"], "paused");
    let pause_id = json["pause_id"].as_i64().expect("a pause id");
    let paused = actions(&pause);
    assert_eq!(paused.keys().cloned().collect::<Vec<_>>(), on_sale);
    assert!(paused.values().all(|a| a == "paused"), "{paused:?}");
    assert!(active_ids(&db).is_empty(), "every package is off sale");

    let row = db
        .client()
        .query_one(
            "SELECT id, paused_by, reason, resumed_at IS NULL FROM credits_ops.package_pause",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), pause_id);
    assert_eq!(row.get::<_, String>(1), "alice");
    assert_eq!(row.get::<_, String>(2), "INC-1 webhook down");
    assert!(row.get::<_, bool>(3), "the pause is open");
    let items: Vec<String> = db
        .client()
        .query(
            "SELECT package_id FROM credits_ops.package_pause_item WHERE pause_id = $1 ORDER BY 1",
            &[&pause_id],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        items, on_sale,
        "the pause records exactly the active packages"
    );
    let audit = db
        .client()
        .query(
            "SELECT operator, reason, command, action, detail FROM credits_ops.repair_log ORDER BY detail->>'package_id'",
            &[],
        )
        .unwrap();
    assert_eq!(audit.len(), 3);
    for (row, id) in audit.iter().zip(&on_sale) {
        assert_eq!(row.get::<_, String>(0), "alice");
        assert_eq!(row.get::<_, String>(1), "INC-1 webhook down");
        assert_eq!(row.get::<_, String>(2), "pause-packages");
        assert_eq!(row.get::<_, String>(3), "pause_package");
        assert_eq!(
            row.get::<_, Value>(4),
            serde_json::json!({"package_id": id, "pause_id": pause_id})
        );
    }

    let resume = db.credits(&[
        "resume-packages",
        "--yes",
        "--operator",
        "bob",
        "--reason",
        "INC-1 fixed",
        "--output",
        "json",
    ]);
    assert_eq!(resume.code, 0, "{resume:?}");
    assert_eq!(resume.json()["result"], "resumed");
    assert_eq!(resume.json()["pause_id"], pause_id);
    let resumed = actions(&resume);
    assert_eq!(resumed.keys().cloned().collect::<Vec<_>>(), on_sale);
    assert!(resumed.values().all(|a| a == "resumed"), "{resumed:?}");
    assert_eq!(
        active_ids(&db),
        on_sale,
        "exactly the paused packages are back"
    );
    assert_eq!(states(&db), before, "Legacy 50 stays retired");

    let row = db
        .client()
        .query_one(
            "SELECT resumed_at IS NOT NULL, resumed_by, resume_reason FROM credits_ops.package_pause",
            &[],
        )
        .unwrap();
    assert!(row.get::<_, bool>(0), "the pause is closed");
    assert_eq!(row.get::<_, String>(1), "bob");
    assert_eq!(row.get::<_, String>(2), "INC-1 fixed");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM credits_ops.repair_log \
             WHERE action = 'resume_package' AND operator = 'bob' AND command = 'resume-packages'"
        ),
        3
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM credits_ops.repair_log WHERE detail->>'package_id' = '{LEGACY}'"
            )
        ),
        0,
        "nothing ever touched the retired package"
    );
}

#[test]
fn pausing_twice_records_one_pause() {
    let db = installed();
    assert_eq!(db.credits(&["pause-packages", "--yes"]).code, 0);
    let before = db.fingerprint();
    let again = db.credits(&["pause-packages", "--yes", "--output", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("already paused"), "{again:?}");
    assert_eq!(again.json()["result"], "already paused");
    assert!(actions(&again).is_empty());
    // Nothing to do needs no confirmation either.
    let unconfirmed = db.credits(&["pause-packages"]);
    assert_eq!(unconfirmed.code, 0, "{unconfirmed:?}");
    assert_eq!(
        db.fingerprint(),
        before,
        "the second pause changed something"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM credits_ops.package_pause"),
        1
    );
}

#[test]
fn resume_without_an_open_pause_changes_nothing() {
    let db = installed();
    let before = db.fingerprint();
    let run = db.credits(&["resume-packages", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("no open pause"), "{run:?}");
    assert_eq!(run.json()["result"], "no open pause");
    assert_eq!(run.json()["pause_id"], Value::Null);
    assert_eq!(db.fingerprint(), before);

    // And after a round trip: the second resume is a no-op too.
    assert_eq!(db.credits(&["pause-packages", "--yes"]).code, 0);
    assert_eq!(db.credits(&["resume-packages", "--yes"]).code, 0);
    let closed = db.fingerprint();
    let again = db.credits(&["resume-packages", "--yes"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("no open pause"), "{again:?}");
    assert_eq!(db.fingerprint(), closed);
}

#[test]
fn dry_runs_print_the_plan_and_write_nothing() {
    let db = installed();
    let on_sale = active_ids(&db);
    let before = db.fingerprint();
    let run = db.credits(&["pause-packages", "--dry-run", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["dry_run"], true);
    assert_eq!(run.json()["result"], "would pause");
    let planned = actions(&run);
    assert_eq!(planned.keys().cloned().collect::<Vec<_>>(), on_sale);
    assert!(planned.values().all(|a| a == "would pause"));
    assert!(run.stderr.contains("dry run"), "{run:?}");
    assert_eq!(db.fingerprint(), before, "pause --dry-run wrote something");

    assert_eq!(db.credits(&["pause-packages", "--yes"]).code, 0);
    let paused = db.fingerprint();
    let run = db.credits(&["resume-packages", "--dry-run", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["result"], "would resume");
    let planned = actions(&run);
    assert_eq!(planned.keys().cloned().collect::<Vec<_>>(), on_sale);
    assert!(planned.values().all(|a| a == "would resume"));
    assert_eq!(db.fingerprint(), paused, "resume --dry-run wrote something");
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_written() {
    let db = installed();
    let before = db.fingerprint();
    let run = db.credits(&["pause-packages", "--reason", "INC-2"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--yes"), "{run:?}");
    assert!(
        run.stderr.contains("Plan"),
        "the plan is shown first: {run:?}"
    );
    assert_eq!(db.fingerprint(), before);

    assert_eq!(db.credits(&["pause-packages", "--yes"]).code, 0);
    let paused = db.fingerprint();
    let run = db.credits(&["resume-packages"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(db.fingerprint(), paused);
}

#[test]
fn concurrent_pauses_leave_one_open_pause() {
    let db = installed();
    let on_sale = active_ids(&db);
    let runs: Vec<Run> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| db.credits(&["pause-packages", "--yes", "--output", "json"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut results: Vec<String> = runs
        .iter()
        .map(|run| {
            assert_eq!(run.code, 0, "{run:?}");
            run.json()["result"].as_str().unwrap().to_string()
        })
        .collect();
    results.sort();
    assert_eq!(
        results,
        [
            "already paused",
            "already paused",
            "already paused",
            "paused"
        ]
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM credits_ops.package_pause"),
        1
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM credits_ops.package_pause_item"),
        on_sale.len() as i64
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM credits_ops.repair_log"),
        on_sale.len() as i64
    );
    assert!(active_ids(&db).is_empty());
}

#[test]
fn packages_shows_the_open_pause() {
    let db = installed();
    let run = db.credits(&["packages", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["command"], "packages");
    assert_eq!(run.json()["open_pause"], Value::Null);
    let list = run.json()["packages"].as_array().unwrap().clone();
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|p| p["paused_by_credits"] == false));

    let pause = db.credits(&[
        "pause-packages",
        "--yes",
        "--operator",
        "carol",
        "--reason",
        "INC-3",
        "--output",
        "json",
    ]);
    let pause_id = pause.json()["pause_id"].clone();
    let before = db.fingerprint();
    let run = db.credits(&["packages", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let open = &run.json()["open_pause"];
    assert_eq!(open["pause_id"], pause_id);
    assert_eq!(open["paused_by"], "carol");
    assert_eq!(open["reason"], "INC-3");
    assert_eq!(open["package_count"], 3);
    assert!(open["paused_at"].as_str().unwrap().starts_with("20"));
    for package in run.json()["packages"].as_array().unwrap() {
        assert_eq!(package["is_active"], false, "{package}");
        let legacy = package["id"] == LEGACY;
        assert_eq!(package["paused_by_credits"], !legacy, "{package}");
        assert!(package["credits"].is_i64() && package["name"].is_string());
    }
    let table = db.credits(&["packages"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("PAUSED"), "{table:?}");
    assert!(table.stdout.contains("carol"), "{table:?}");
    assert_eq!(db.fingerprint(), before, "packages is read-only");
}

#[test]
fn a_package_reactivated_by_hand_is_left_and_reported() {
    let db = installed();
    assert_eq!(db.credits(&["pause-packages", "--yes"]).code, 0);
    db.client()
        .batch_execute("UPDATE credit_package SET is_active = true WHERE name = 'Pro'")
        .unwrap();
    let pro: String = db
        .client()
        .query_one(
            "SELECT id::text FROM credit_package WHERE name = 'Pro'",
            &[],
        )
        .unwrap()
        .get(0);
    let run = db.credits(&["resume-packages", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let done = actions(&run);
    assert_eq!(done[&pro], "left active (re-activated by hand)");
    assert_eq!(done.values().filter(|a| *a == "resumed").count(), 2);
    assert!(run.stderr.contains("re-activated by hand"), "{run:?}");
    let states = states(&db);
    assert!(states["Starter"] && states["Pro"] && states["Team"]);
    assert!(!states["Legacy 50"]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM credits_ops.repair_log WHERE action = 'resume_package'"
        ),
        2,
        "one audit row per package changed"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM credits_ops.package_pause WHERE resumed_at IS NULL"
        ),
        0
    );
}

#[test]
fn nothing_active_creates_no_pause() {
    let db = installed();
    db.client()
        .batch_execute("UPDATE credit_package SET is_active = false")
        .unwrap();
    let before = db.fingerprint();
    let run = db.credits(&["pause-packages", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["result"], "nothing active");
    assert!(run.stderr.contains("no package is active"), "{run:?}");
    assert_eq!(db.fingerprint(), before);
}

#[test]
fn integer_package_ids_work_too() {
    let db = TestDb::new();
    db.client()
        .batch_execute(
            "ALTER TABLE credit_recharge DROP COLUMN package_id;
             DROP TABLE credit_package;
             CREATE TABLE credit_package (id int PRIMARY KEY, name text NOT NULL,
                                          credits int NOT NULL, is_active bool NOT NULL);
             INSERT INTO credit_package VALUES (1, 'One', 10, true), (2, 'Two', 20, false),
                                               (10, 'Ten', 100, true);",
        )
        .unwrap();
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let pause = db.credits(&["pause-packages", "--yes", "--output", "json"]);
    assert_eq!(pause.code, 0, "{pause:?}");
    assert_eq!(
        actions(&pause).keys().cloned().collect::<Vec<_>>(),
        ["1", "10"]
    );
    assert!(active_ids(&db).is_empty());
    let resume = db.credits(&["resume-packages", "--yes"]);
    assert_eq!(resume.code, 0, "{resume:?}");
    assert_eq!(active_ids(&db), ["1", "10"]);
}

#[test]
fn the_commands_need_the_install() {
    let db = TestDb::new();
    let before = db.fingerprint();
    for args in [
        &["pause-packages", "--yes"][..],
        &["resume-packages", "--yes"],
        &["packages"],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 4, "{args:?}: {run:?}");
        assert!(run.stderr.contains("credits install"), "{run:?}");
    }
    assert_eq!(db.fingerprint(), before);
}
