//! The facts credits keeps as the app writes (V019) against the same facts
//! computed from the tables, on every app shape, through every kind of
//! write: before a refresh (marks pending, computed afresh by the read),
//! after one, and after the tool's own repairs; and what makes them
//! unusable (a truncate, a disabled trigger) until `credits install`.

use std::collections::BTreeSet;

use credits::reference::Shape;
use serde_json::Value;

use crate::harness::{Run, TestDb};
use crate::shapes::{Names, PRISMA, RUNBOOK, SERIAL, Shaped};

/// (recharges differing, users differing, recharges kept, users kept, marks)
fn compare(client: &mut postgres::Client) -> (i64, i64, i64, i64, i64) {
    client
        .batch_execute(
            "SET credits.since = '-infinity'; SET credits.user_id = ''; SET credits.payment_intent = ''",
        )
        .unwrap();
    let row = client
        .query_one(include_str!("sql/kept_vs_tables.sql"), &[])
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))
}

/// Every finding of a debug run, as JSON text, sorted.
fn findings(run: &Run) -> BTreeSet<String> {
    assert!(run.code <= 1, "{run:?}");
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.to_string())
        .collect()
}

/// debug (kept facts, refreshed first) and debug --rescan (the tables)
/// find the same, and debug said it read the kept facts.
fn debug_equals_rescan(credits: &dyn Fn(&[&str]) -> Run, when: &str) {
    let kept = credits(&["debug", "--output", "json", "--all", "--since", "3650d"]);
    let rescan = credits(&[
        "debug", "--output", "json", "--all", "--since", "3650d", "--rescan",
    ]);
    let source = kept.json()["facts"].as_str().unwrap().to_string();
    assert!(source.starts_with("kept"), "{when}: {kept:?}");
    assert!(
        rescan.json()["facts"]
            .as_str()
            .unwrap()
            .starts_with("tables (--rescan)"),
        "{rescan:?}"
    );
    assert_eq!(findings(&kept), findings(&rescan), "{when}");
    assert!(!findings(&kept).is_empty(), "{when}: nothing found at all");
}

/// A dry run's JSON report over every recharge (`--since 3650d`), read
/// from the kept facts, or from the tables with `rescan`.
fn dry_run_json(credits: &dyn Fn(&[&str]) -> Run, args: &[&str], rescan: bool) -> Value {
    let mut args = args.to_vec();
    args.extend(["--since", "3650d", "--output", "json"]);
    if rescan {
        args.push("--rescan");
    }
    let run = credits(&args);
    assert_eq!(run.code, 0, "{run:?}");
    run.json()
}

/// Edits, key moves and deletes in the app's own tables and names, as an
/// app or a person with psql would make them.
fn app_writes(client: &mut postgres::Client, n: &Names) {
    let sql = format!(
        "BEGIN;
         UPDATE {b} SET balance = balance + 7
          WHERE {u} = (SELECT {u} FROM {b} ORDER BY {u} LIMIT 1);
         UPDATE {l} SET amount = amount + 1
          WHERE ctid = (SELECT ctid FROM {l} WHERE type::text = '{rt}' ORDER BY {rid} LIMIT 1);
         DELETE FROM {l}
          WHERE ctid = (SELECT ctid FROM {l} WHERE type::text = '{rt}' ORDER BY {rid} DESC LIMIT 1);
         UPDATE {l} SET {u} = (SELECT {u} FROM {l} ORDER BY {u} LIMIT 1)
          WHERE ctid = (SELECT ctid FROM {l} WHERE {u} <> (SELECT {u} FROM {l} ORDER BY {u} LIMIT 1)
                        ORDER BY {rid} NULLS LAST LIMIT 1);
         UPDATE {r} SET status = '{c}'
          WHERE ctid = (SELECT ctid FROM {r} WHERE status::text <> '{c}' ORDER BY id LIMIT 1);
         UPDATE {r} SET amount = amount WHERE ctid = (SELECT ctid FROM {r} LIMIT 1);
         DELETE FROM {b} WHERE {u} = (SELECT {u} FROM {b} ORDER BY {u} DESC LIMIT 1);
         -- every ledger row rewritten unchanged (as an app's data migration
         -- does): still marked, more marks than the fold's first chunk
         UPDATE {l} SET amount = amount;
         COMMIT;",
        b = n.balance,
        l = n.ledger,
        r = n.recharge,
        u = n.user_id,
        rid = n.recharge_id,
        rt = n.recharge_type,
        c = n.completed,
    );
    client.batch_execute(&sql).unwrap();
}

fn kept_facts_follow_every_write(
    db: &TestDb,
    credits: &dyn Fn(&[&str]) -> Run,
    names: &Names,
    shape: &str,
) {
    let mut client = db.client();
    let (r, u, kept_r, kept_u, marks) = compare(&mut client);
    assert_eq!((r, u, marks), (0, 0, 0), "{shape}: right after install");
    assert!(kept_r > 0 && kept_u > 0, "{shape}: nothing kept");
    debug_equals_rescan(credits, &format!("{shape}: after install"));

    app_writes(&mut client, names);
    let (r, u, _, _, marks) = compare(&mut client);
    // The fold's first chunk takes 16 marks: these need more than one.
    assert!(marks > 16, "{shape}: the app's writes left {marks} marks");
    assert_eq!((r, u), (0, 0), "{shape}: read with the marks pending");

    // retry-failed's dry run plans from the kept facts, marks pending
    let retry_plan = |rescan: bool| {
        let args = ["retry-failed", "--dry-run", "--include-pending"];
        dry_run_json(credits, &args, rescan)["recharges"].clone()
    };
    let kept_plan = retry_plan(false);
    assert!(
        !kept_plan.as_array().unwrap().is_empty(),
        "{shape}: no failed or stuck recharge to plan"
    );
    assert_eq!(kept_plan, retry_plan(true), "{shape}: retry-failed's plan");

    // debug folds the marks first, then reads
    debug_equals_rescan(credits, &format!("{shape}: after the app's writes"));
    let (r, u, _, _, marks) = compare(&mut client);
    assert_eq!((r, u, marks), (0, 0, 0), "{shape}: after the refresh");

    // bulk-fix plans from the same facts: the same users, the same credits
    let plan = |rescan: bool| {
        let json = dry_run_json(credits, &["bulk-fix", "--dry-run"], rescan);
        (
            json["affected_users"].clone(),
            json["planned_credits"].clone(),
            json["summary"].clone(),
        )
    };
    assert_eq!(plan(false), plan(true), "{shape}: bulk-fix's plan");
    let fixed = credits(&["bulk-fix", "--yes", "--since", "3650d", "--reason", "T-1"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    let (r, u, _, _, marks) = compare(&mut client);
    assert!(marks > 0, "{shape}: bulk-fix's writes left no mark");
    assert_eq!((r, u), (0, 0), "{shape}: after bulk-fix, marks pending");
    debug_equals_rescan(credits, &format!("{shape}: after bulk-fix"));
}

#[test]
fn kept_facts_follow_every_write_on_the_reference_app() {
    let (db, _) = TestDb::installed_incident(3000, 300);
    kept_facts_follow_every_write(&db, &|args| db.credits(args), &RUNBOOK, "reference");
}

#[test]
fn kept_facts_follow_every_write_on_real_apps() {
    for (shape, names) in [
        (Shape::Runbook, &RUNBOOK),
        (Shape::Prisma, &PRISMA),
        (Shape::Serial, &SERIAL),
    ] {
        let app = Shaped::new(shape, names);
        let install = app.credits(&["install", "--yes"]);
        assert_eq!(install.code, 0, "{install:?}");
        kept_facts_follow_every_write(
            &app.db,
            &|args| app.credits(args),
            names,
            &format!("{shape:?}"),
        );
    }
}

#[test]
fn a_truncate_or_a_disabled_trigger_sends_the_commands_to_the_tables_until_install() {
    let (db, _) = TestDb::installed_incident(500, 50);
    let facts = |run: &Run| run.json()["facts"].as_str().unwrap().to_string();
    let debug = || db.credits(&["debug", "--output", "json"]);
    assert!(facts(&debug()).starts_with("kept"));

    db.client()
        .batch_execute("ALTER TABLE public.credit_transaction DISABLE TRIGGER credits_kept_facts")
        .unwrap();
    let run = debug();
    assert!(
        facts(&run).contains("credits_kept_facts on ")
            && facts(&run).contains("credit_transaction"),
        "{run:?}"
    );
    assert!(run.stderr.contains("reading the tables whole"), "{run:?}");
    let health = db.credits(&["health", "--output", "json"]);
    assert!(
        health.stderr.contains("credits_kept_facts on "),
        "{health:?}"
    );

    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    assert!(install.stderr.contains("kept facts built"), "{install:?}");
    assert!(facts(&debug()).starts_with("kept"));

    db.client()
        .batch_execute("TRUNCATE public.user_credit_balance")
        .unwrap();
    let run = debug();
    assert!(
        facts(&run).contains("user_credit_balance was truncated"),
        "{run:?}"
    );
    // read from the tables, every user now lacks a balance row
    assert!(run.stdout.contains("MISSING_BALANCE_ROW"), "{run:?}");
    let dry = db.credits(&["install", "--dry-run"]);
    assert!(
        dry.stderr.contains("the kept facts would be built"),
        "{dry:?}"
    );
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let run = debug();
    assert!(facts(&run).starts_with("kept"), "{run:?}");
    let rescan = db.credits(&["debug", "--output", "json", "--rescan"]);
    assert_eq!(findings(&run), findings(&rescan));
}

#[test]
fn an_app_migration_never_makes_the_apps_writes_fail() {
    let (db, _) = TestDb::installed_incident(500, 50);
    let mut client = db.client();
    // A json column has no equality operator: a trigger comparing whole
    // rows would fail this update.
    client
        .batch_execute(
            "ALTER TABLE public.credit_recharge ADD COLUMN meta json;
             UPDATE public.credit_recharge SET meta = '{\"a\": 1}'
              WHERE id = (SELECT id FROM public.credit_recharge ORDER BY id LIMIT 1);",
        )
        .unwrap();
    // A renamed column the triggers read: the app keeps writing.
    client
        .batch_execute(
            "ALTER TABLE public.credit_transaction RENAME COLUMN related_recharge_id TO recharge_ref;
             INSERT INTO public.credit_transaction (user_id, amount, type, recharge_ref, description)
             SELECT user_id, 5, 'adjustment', recharge_ref, 'goodwill'
             FROM public.credit_transaction WHERE recharge_ref IS NOT NULL ORDER BY id LIMIT 1;
             UPDATE public.credit_transaction SET amount = amount
              WHERE id = (SELECT id FROM public.credit_transaction ORDER BY id LIMIT 1);",
        )
        .unwrap();
    let changed = db.credits(&["debug"]);
    assert_eq!(
        changed.code, 4,
        "the app changed since install: {changed:?}"
    );

    // Renamed back, the writes made meanwhile are not trusted to be marked.
    client
        .batch_execute(
            "ALTER TABLE public.credit_transaction RENAME COLUMN recharge_ref TO related_recharge_id",
        )
        .unwrap();
    let run = db.credits(&["debug", "--output", "json"]);
    let facts = run.json()["facts"].as_str().unwrap().to_string();
    assert!(
        facts.contains("credit_transaction lost a column the kept facts read"),
        "{run:?}"
    );
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let run = db.credits(&["debug", "--output", "json"]);
    assert!(
        run.json()["facts"].as_str().unwrap().starts_with("kept"),
        "{run:?}"
    );
    let rescan = db.credits(&["debug", "--output", "json", "--rescan"]);
    assert_eq!(findings(&run), findings(&rescan));
}
