use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::TestDb;

fn recharge_transactions(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM credit_transaction WHERE type = 'recharge'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// How many completed recharges the incident planted without their credit.
fn planted_missing(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM credits_demo.expected_finding WHERE kind = 'MISSING_TRANSACTION'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// An app trigger that sleeps `seconds` for each ledger row written, so a
/// batch takes as long as a test needs.
fn slow_ledger(db: &TestDb, seconds: f64) {
    db.client()
        .batch_execute(&format!(
            "CREATE FUNCTION public.slow_ledger() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$; \
             CREATE TRIGGER slow_ledger AFTER INSERT ON public.credit_transaction \
             FOR EACH ROW EXECUTE FUNCTION public.slow_ledger();"
        ))
        .unwrap();
}

/// `credits bulk-fix <args>` in the background, silent, to be killed.
fn spawn_bulk_fix(db: &TestDb, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_credits"))
        .arg("bulk-fix")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// After interrupted runs: a rerun exits 0, and every credit that was
/// missing before them is there exactly once.
fn a_rerun_credits_the_rest_exactly_once(db: &TestDb, before: i64, missing: i64) {
    let finish = db.credits(&["bulk-fix", "--yes"]);
    assert_eq!(finish.code, 0, "{finish:?}");
    assert_eq!(
        recharge_transactions(db) - before,
        missing,
        "every missing credit exactly once"
    );
    assert_eq!(db.violations(), vec![]);
}

#[test]
fn bulk_fix_repairs_every_affected_user_once() {
    let db = TestDb::installed_incident(3000, 300).0;
    let planted = planted_missing(&db);
    let before = recharge_transactions(&db);
    let run = db.credits(&[
        "bulk-fix",
        "--yes",
        "--batch-size",
        "7",
        "--reason",
        "INC-3",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let summary = run.json()["summary"][0].clone();
    assert_eq!(summary["recharges_credited"], planted, "{summary}");
    assert_eq!(
        recharge_transactions(&db) - before,
        planted,
        "each missing credit granted once"
    );
    assert_eq!(db.violations(), vec![], "invariants after bulk-fix");

    let debug = db.credits(&["debug", "--output", "json"]);
    let left: Vec<String> = debug.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect();
    for fixed in [
        "MISSING_TRANSACTION",
        "CREDITED_NOT_COMPLETED",
        "BALANCE_DRIFT",
        "MISSING_BALANCE_ROW",
    ] {
        assert!(
            !left.contains(&fixed.to_string()),
            "{fixed} left after bulk-fix"
        );
    }
    assert!(
        left.contains(&"DUPLICATE_CREDIT".to_string()),
        "duplicates need a decision: reported, not changed"
    );

    let fingerprint = db.fingerprint();
    let again = db.credits(&["bulk-fix", "--yes", "--output", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        db.fingerprint(),
        fingerprint,
        "a second run changes nothing"
    );
}

/// What each check of `credits debug` counts, by check.
fn debug_counts(db: &TestDb) -> Vec<(String, i64)> {
    let debug = db.credits(&["debug", "--output", "json"]);
    debug.json()["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let count = c["count"].as_i64().unwrap_or(-1);
            (c["check"].as_str().unwrap().to_string(), count)
        })
        .collect()
}

/// How many audit rows bulk-fix wrote, by action.
fn audit_actions(db: &TestDb) -> Vec<(String, i64)> {
    db.client()
        .query(
            "SELECT action, count(*) FROM credits_ops.repair_log GROUP BY action ORDER BY action",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn batches_on_several_connections_repair_what_one_connection_repairs() {
    // The same incident twice: one repaired batch after batch on one
    // connection, the other by four connections taking small batches in turn.
    let one = TestDb::installed_incident(3000, 300).0;
    let four = TestDb::installed_incident(3000, 300).0;
    assert_eq!(debug_counts(&one), debug_counts(&four), "the same incident");
    let before = recharge_transactions(&four);
    let runs: Vec<serde_json::Value> = [(&one, "1"), (&four, "4")]
        .into_iter()
        .map(|(db, jobs)| {
            let run = db.credits(&[
                "bulk-fix",
                "--yes",
                "--jobs",
                jobs,
                "--batch-size",
                "5",
                "--output",
                "json",
            ]);
            assert_eq!(run.code, 0, "--jobs {jobs}: {run:?}");
            run.json()
        })
        .collect();
    assert_eq!(runs[0]["summary"], runs[1]["summary"]);
    let affected = runs[1]["affected_users"].as_u64().unwrap();
    assert!(affected > 100, "{}", runs[1]);
    assert!(
        runs[1]["batches"].as_u64().unwrap() >= affected / 5,
        "batches of at most 5 users: {}",
        runs[1]
    );
    assert_eq!(
        recharge_transactions(&four) - before,
        planted_missing(&four),
        "each missing credit granted once"
    );
    assert_eq!(four.violations(), vec![]);
    assert_eq!(audit_actions(&one), audit_actions(&four));
    assert_eq!(
        debug_counts(&one),
        debug_counts(&four),
        "the same left for a human"
    );
}

#[test]
fn bulk_fix_dry_run_and_max_credits_write_nothing() {
    let db = TestDb::installed_incident(1000, 100).0;
    let before = db.fingerprint();
    let dry = db.credits(&["bulk-fix", "--dry-run", "--output", "json"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.json()["summary"][0]["recharges_credited"]
            .as_u64()
            .unwrap()
            > 0,
        "{dry:?}"
    );
    assert_eq!(db.fingerprint(), before, "--dry-run wrote something");
    let guarded = db.credits(&["bulk-fix", "--yes", "--max-credits", "10"]);
    assert_eq!(guarded.code, 2, "{guarded:?}");
    assert!(guarded.stderr.contains("--max-credits"), "{guarded:?}");
    assert_eq!(db.fingerprint(), before);
    assert_eq!(
        db.credits(&["bulk-fix"]).code,
        2,
        "no --yes and no terminal"
    );
    assert_eq!(db.fingerprint(), before);
}

/// bulk-fix repairs what its plan found in the window, and credits what
/// the plan counted for --max-credits: an older recharge of the same user,
/// completed without its credit, is left to fix-user, which reads every
/// recharge of its user.
#[test]
fn bulk_fix_credits_what_its_plan_counted_and_fix_user_the_rest() {
    let db = TestDb::installed_incident(1000, 100).0;
    let user = db.planted("MISSING_TRANSACTION").user;
    let old: String = db
        .client()
        .query_one(
            "INSERT INTO credit_recharge (user_id, amount, status, payment_intent_id, created_at) \
             VALUES ($1::text::uuid, 40, 'completed', 'pi_old_window', now() - interval '30 days') \
             RETURNING id::text",
            &[&user],
        )
        .unwrap()
        .get(0);
    let credits_of_old = |db: &TestDb| -> i64 {
        db.client()
            .query_one(
                "SELECT count(*) FROM credit_transaction WHERE related_recharge_id = $1::text::uuid",
                &[&old],
            )
            .unwrap()
            .get(0)
    };

    let run = db.credits(&["bulk-fix", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(
        report["summary"][0]["credits_granted"], report["planned_credits"],
        "{report}"
    );
    assert_eq!(credits_of_old(&db), 0, "outside the window: {report}");

    let fixed = db.credits(&["fix-user", &user, "--yes", "--output", "json"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert_eq!(credits_of_old(&db), 1, "{fixed:?}");
    assert_eq!(db.violations(), vec![]);
}

#[test]
fn locked_users_are_skipped_reported_and_fixed_by_a_rerun() {
    let db = TestDb::installed_incident(1000, 100).0;
    let user = db.planted("MISSING_TRANSACTION").user;
    let mut holder = db.client();
    let mut lock = holder.transaction().unwrap();
    lock.execute(
        "SELECT 1 FROM credit_recharge WHERE user_id = $1::text::uuid FOR UPDATE",
        &[&user],
    )
    .unwrap();
    let run = db.credits(&["bulk-fix", "--yes", "--output", "json"]);
    assert_eq!(run.code, 5, "{run:?}");
    let left = run.json()["left_alone"].as_array().unwrap().clone();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["user_id"], user.as_str());
    lock.rollback().unwrap();

    let rerun = db.credits(&["bulk-fix", "--yes", "--output", "json"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_eq!(rerun.json()["summary"][0]["users_fixed"], 1, "{rerun:?}");
    assert_eq!(db.violations(), vec![]);
}

#[test]
fn bulk_fix_killed_at_any_point_loses_and_doubles_nothing() {
    let db = TestDb::installed_incident(3000, 300).0;
    let missing = planted_missing(&db);
    let before = recharge_transactions(&db);
    // Deterministic spread of kill points, from before the first batch to mid-run.
    for delay_ms in [5u64, 40, 90, 150] {
        let mut child = spawn_bulk_fix(&db, &["--yes", "--batch-size", "3"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        assert!(
            recharge_transactions(&db) - before <= missing,
            "never more credits than were missing (kill at {delay_ms} ms)"
        );
    }
    a_rerun_credits_the_rest_exactly_once(&db, before, missing);
}

/// A run killed in the middle of a batch leaves a server-side ghost holding
/// its row locks until the server notices (client_connection_check_interval):
/// the rerun started at once must wait it out, not exit 5 on its own ghost.
#[test]
fn a_rerun_right_after_six_kills_mid_batch_finishes_with_exit_0() {
    let db = TestDb::installed_incident(3000, 300).0;
    let missing = planted_missing(&db);
    // A slow app trigger, so each batch's statement runs long enough for
    // the kill to land in it.
    slow_ledger(&db, 0.03);
    let before = recharge_transactions(&db);
    let credited = |db: &TestDb| -> i64 {
        db.client()
            .query_one(
                "SELECT count(*) FROM credits_ops.repair_log WHERE action = 'credited'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    for kill in 0..6 {
        let start = credited(&db);
        let mut child = spawn_bulk_fix(&db, &["--yes"]);
        // Once a batch has committed, the next one is in flight: kill it there.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while credited(&db) == start && child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "no batch committed (kill {kill})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(40));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
    }
    a_rerun_credits_the_rest_exactly_once(&db, before, missing);
}

/// The batch sizer aims at half of --max-transaction from the batches
/// before, and cannot see a slow one coming: the server cancels a batch of
/// several users at --max-transaction, and it is redone in halves, its
/// writes and audit rows rolled back with it, never doubled.
#[test]
fn a_batch_that_reaches_max_transaction_is_cancelled_and_redone_in_halves() {
    let db = TestDb::installed_incident(3000, 300).0;
    let missing = planted_missing(&db);
    let before = recharge_transactions(&db);
    // An app trigger that makes any batch crediting two or more recharges
    // outlast --max-transaction (60 ms a ledger row against 100 ms).
    slow_ledger(&db, 0.06);
    let run = db.credits(&[
        "bulk-fix",
        "--yes",
        "--max-transaction",
        "100ms",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert!(json["batches_split"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(
        recharge_transactions(&db) - before,
        missing,
        "every missing credit exactly once"
    );
    let audited: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_ops.repair_log WHERE action = 'credited'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        audited, missing,
        "one audit row per credit, none of a cancelled batch"
    );
    assert_eq!(db.violations(), vec![]);
}

#[test]
fn after_the_repairs_only_what_needs_a_human_is_left() {
    let db = TestDb::installed_incident(3000, 300).0;
    for args in [
        &["bulk-fix", "--yes"][..],
        &["retry-failed", "--yes"],
        &["retry-failed", "--include-pending", "--yes"],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
    }
    assert_eq!(
        db.violations(),
        vec![],
        "I1, I2 (for what the tool may fix), I3, I5"
    );
    let doubled: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM (SELECT related_recharge_id FROM credit_transaction WHERE type = 'recharge' \
             GROUP BY 1 HAVING count(*) > 1) d WHERE related_recharge_id NOT IN \
             (SELECT recharge_id FROM credits_demo.expected_finding WHERE kind = 'DUPLICATE_CREDIT')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(doubled, 0, "I4: no recharge credited twice by the tool");

    let debug = db.credits(&["debug", "--output", "json"]);
    let left: std::collections::BTreeSet<String> = debug.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect();
    let needs_a_human = [
        "FAILED_UNVERIFIED",
        "STUCK_PENDING",
        "DUPLICATE_CREDIT",
        "AMOUNT_MISMATCH",
        "UNKNOWN_STATUS",
        "REFUNDED_NOT_DEBITED",
        "RLS_DISABLED",
        "WEBHOOK_EVENT_FAILED",
    ];
    for check in &left {
        assert!(
            needs_a_human.contains(&check.as_str()),
            "{check} is left after the repairs"
        );
    }
    // Webhook failures left are about payments nobody can prove yet.
    for finding in debug.json()["findings"].as_array().unwrap() {
        if finding["check"] == "WEBHOOK_EVENT_FAILED" {
            let recharge = finding["recharge_id"].as_str().unwrap();
            let kind: String = db
                .client()
                .query_one("SELECT kind FROM credits_demo.expected_finding WHERE recharge_id = $1::text::uuid", &[&recharge])
                .unwrap()
                .get(0);
            assert!(
                ["FAILED_UNVERIFIED", "STUCK_PENDING"].contains(&kind.as_str()),
                "{finding}"
            );
        }
    }
}

#[test]
fn repairs_work_on_an_app_with_its_own_quirks() {
    // Not the reference schema's shape: bigint identity ids on the ledger, no
    // default for created_at, an extra column, another transaction type, and
    // a balance kept by a trigger of the app's own (unqualified names).
    let (db, _) = TestDb::with_incident(1000, 100);
    db.client()
        .batch_execute(
            "ALTER TABLE credit_transaction DROP CONSTRAINT credit_transaction_pkey; \
             ALTER TABLE credit_transaction RENAME COLUMN id TO legacy_id; \
             ALTER TABLE credit_transaction ALTER COLUMN legacy_id DROP NOT NULL, ALTER COLUMN legacy_id DROP DEFAULT; \
             ALTER TABLE credit_transaction ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY; \
             ALTER TABLE credit_transaction ALTER COLUMN created_at DROP DEFAULT; \
             ALTER TABLE credit_transaction ADD COLUMN source text NOT NULL DEFAULT 'app'; \
             INSERT INTO credit_transaction (user_id, amount, type, created_at) \
               SELECT user_id, 7, 'bonus', now() FROM user_credit_balance ORDER BY user_id LIMIT 5; \
             UPDATE user_credit_balance b SET balance = balance + 7 \
               WHERE user_id IN (SELECT user_id FROM credit_transaction WHERE type = 'bonus'); \
             CREATE FUNCTION keep_balance() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               UPDATE user_credit_balance SET balance = balance + NEW.amount WHERE user_id = NEW.user_id; RETURN NEW; END $$; \
             CREATE TRIGGER keep_balance AFTER INSERT ON credit_transaction FOR EACH ROW EXECUTE FUNCTION keep_balance();",
        )
        .unwrap();
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let missing = planted_missing(&db);
    let before = recharge_transactions(&db);
    for args in [
        &["bulk-fix", "--yes"][..],
        &["retry-failed", "--include-pending", "--yes"],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
    }
    assert!(
        recharge_transactions(&db) - before >= missing,
        "the missing credits were granted"
    );
    assert_eq!(
        db.violations(),
        vec![],
        "invariants hold on the quirky schema"
    );
    db.fold_kept_facts();
    let rerun = db.fingerprint();
    assert_eq!(db.credits(&["bulk-fix", "--yes"]).code, 0);
    assert_eq!(db.fingerprint(), rerun, "a second run changes nothing");
}

#[test]
fn ctrl_c_finishes_the_batch_in_flight_says_what_was_done_and_a_rerun_finishes() {
    let db = TestDb::installed_incident(3000, 300).0;
    let before = recharge_transactions(&db);
    let child = Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(["bulk-fix", "--yes", "--batch-size", "1"])
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first committed credit, then interrupt as a terminal would.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while recharge_transactions(&db) == before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    // Interrupted: exit 5 naming the batches committed. (Had it finished
    // before the signal, it would have said nothing and exited 0.)
    if output.status.code() == Some(5) {
        assert!(
            stderr.contains("interrupted:") && stderr.contains("committed"),
            "{stderr}"
        );
        assert!(stderr.contains("Run the same command again"), "{stderr}");
    } else {
        assert_eq!(output.status.code(), Some(0), "{stderr}");
    }
    let finish = db.credits(&["bulk-fix", "--yes"]);
    assert_eq!(finish.code, 0, "{finish:?}");
    assert_eq!(db.violations(), vec![]);
}

/// `bulk-fix --dry-run --since 30d`'s affected users and planned credits,
/// and what the same plan file gives read at once over V013's views of the
/// tables, in the window the dry run reports.
fn plan_paged_and_whole(db: &TestDb) -> ((u64, i64), (u64, i64)) {
    let dry = db.credits(&[
        "bulk-fix",
        "--dry-run",
        "--since",
        "30d",
        "--output",
        "json",
    ]);
    assert_eq!(dry.code, 0, "{dry:?}");
    let plan = dry.json();
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    tx.execute(
        "SELECT set_config('search_path', 'credits_ops, public', true), \
                set_config('credits.since', $1, true)",
        &[&plan["since"].as_str().unwrap()],
    )
    .unwrap();
    let whole = tx
        .query(
            include_str!("../../sql/repair/affected_users.sql"),
            &[&false, &None::<String>, &None::<String>],
        )
        .unwrap();
    let credits: i64 = whole.iter().map(|row| row.get::<_, i64>("credits")).sum();
    (
        (
            plan["affected_users"].as_u64().unwrap(),
            plan["planned_credits"].as_i64().unwrap(),
        ),
        (whole.len() as u64, credits),
    )
}

#[test]
fn the_plan_read_a_page_at_a_time_is_the_plan_read_at_once() {
    // bulk-fix reads its plan a range of users at a time, the first range a
    // few kept facts, the next ones sized by time. One user gets more
    // completed recharges without their credit than the first pages hold,
    // folded into the kept facts, so a page's end falls among them.
    let db = TestDb::installed_incident(3000, 300).0;
    db.client()
        .batch_execute(
            "INSERT INTO public.credit_recharge (user_id, amount, status) \
             SELECT u.user_id, 100, 'completed' \
             FROM (SELECT user_id FROM public.credit_recharge ORDER BY user_id::text LIMIT 1) u, \
                  generate_series(1, 40)",
        )
        .unwrap();
    db.fold_kept_facts();
    let (paged, whole) = plan_paged_and_whole(&db);
    assert!(whole.0 > 100, "{whole:?}");
    assert_eq!(paged, whole, "affected users and planned credits");
    // Every recharge and balance changed and not folded (a dry run folds
    // nothing): each page computes their facts afresh.
    db.client()
        .batch_execute(
            "UPDATE public.credit_recharge SET updated_at = now(); \
             UPDATE public.user_credit_balance SET updated_at = now();",
        )
        .unwrap();
    assert_eq!(
        plan_paged_and_whole(&db),
        (paged, whole),
        "with every row marked"
    );

    let before = recharge_transactions(&db);
    let run = db.credits(&["bulk-fix", "--yes", "--since", "30d", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["affected_users"], paged.0);
    assert_eq!(
        recharge_transactions(&db) - before,
        planted_missing(&db) + 40,
        "each missing credit granted once, the added ones too"
    );
    assert_eq!(db.violations(), vec![]);
}
