use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{Run, TestDb};

/// The recharges the incident planted as `kind`: (recharge id, payment intent).
fn planted(db: &TestDb, kind: &str) -> Vec<(String, Option<String>)> {
    let rows = db
        .client()
        .query(
            "SELECT r.id::text, r.payment_intent_id FROM credits_demo.expected_finding f \
             JOIN credit_recharge r ON r.id = f.recharge_id WHERE f.kind = $1 ORDER BY r.created_at",
            &[&kind],
        )
        .unwrap();
    assert!(!rows.is_empty(), "the incident plants {kind}");
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

fn ids(recharges: &[(String, Option<String>)]) -> Vec<String> {
    recharges.iter().map(|(id, _)| id.clone()).collect()
}

/// (status, number of `recharge` transactions) of a recharge.
fn state(db: &TestDb, recharge: &str) -> (String, i64) {
    let row = db
        .client()
        .query_one(
            "SELECT status, (SELECT count(*) FROM credit_transaction t \
                             WHERE t.related_recharge_id = r.id AND t.type = 'recharge') \
             FROM credit_recharge r WHERE r.id = $1::text::uuid",
            &[&recharge],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn assert_credited(db: &TestDb, recharges: &[String], what: &str) {
    for id in recharges {
        assert_eq!(
            state(db, id),
            ("completed".to_string(), 1),
            "{what} {id} is credited exactly once"
        );
    }
}

fn assert_untouched(db: &TestDb, recharges: &[String], status: &str, what: &str) {
    for id in recharges {
        assert_eq!(
            state(db, id),
            (status.to_string(), 0),
            "{what} {id} is left as it was"
        );
    }
}

fn retry(db: &TestDb, extra: &[&str]) -> Run {
    let mut args = vec![
        "retry-failed",
        "--reason",
        "INC-7",
        "--operator",
        "oncall",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    db.credits(&args)
}

fn action_of(run: &Run, recharge: &str) -> Option<String> {
    run.json()["recharges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["recharge_id"] == recharge)
        .map(|r| r["action"].as_str().unwrap().to_string())
}

fn debug_checks(db: &TestDb) -> Vec<String> {
    let run = db.credits(&["debug", "--output", "json"]);
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect()
}

/// Recent pending recharges (younger than the default --stuck-after).
fn fresh_pending(db: &TestDb) -> Vec<String> {
    let rows = db
        .client()
        .query(
            "SELECT id::text FROM credit_recharge WHERE status = 'pending' AND created_at > now() - interval '1 hour'",
            &[],
        )
        .unwrap();
    assert!(!rows.is_empty(), "the incident has fresh pending recharges");
    rows.iter().map(|row| row.get(0)).collect()
}

/// A failed and a 3-hour-old pending recharge whose only event is a
/// `checkout.session.completed` with payment_status `unpaid`: not a payment.
fn plant_unpaid_checkouts(db: &TestDb) -> Vec<String> {
    db.client()
        .batch_execute(
            "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-4000-8000-00000000c0de', 'unpaid@example.com');
             INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, created_at) VALUES
               ('00000000-0000-4000-8000-00000000c001', '00000000-0000-4000-8000-00000000c0de', 100, 'failed', 'pi_unpaid_failed', now() - interval '3 hours'),
               ('00000000-0000-4000-8000-00000000c002', '00000000-0000-4000-8000-00000000c0de', 100, 'pending', 'pi_unpaid_pending', now() - interval '3 hours');
             INSERT INTO stripe_webhook_event (id, type, payment_intent_id, payload, status, received_at) VALUES
               ('evt_unpaid_1', 'checkout.session.completed', 'pi_unpaid_failed',
                '{\"data\": {\"object\": {\"payment_status\": \"unpaid\"}}}', 'processed', now() - interval '3 hours'),
               ('evt_unpaid_2', 'checkout.session.completed', 'pi_unpaid_pending',
                '{\"data\": {\"object\": {\"payment_status\": \"unpaid\"}}}', 'processed', now() - interval '3 hours');",
        )
        .unwrap();
    vec![
        "00000000-0000-4000-8000-00000000c001".to_string(),
        "00000000-0000-4000-8000-00000000c002".to_string(),
    ]
}

#[test]
fn retry_failed_credits_exactly_the_paid_recharges_and_a_second_run_changes_nothing() {
    let db = TestDb::installed_incident(2000, 200).0;
    let unpaid = plant_unpaid_checkouts(&db);
    let failed_paid = ids(&planted(&db, "FAILED_PAID"));
    let unverified = planted(&db, "FAILED_UNVERIFIED");
    let stuck_paid = ids(&planted(&db, "STUCK_PENDING_PAID"));
    let stuck = ids(&planted(&db, "STUCK_PENDING"));
    let fresh = fresh_pending(&db);
    let credits_owed: i64 = db
        .client()
        .query_one(
            "SELECT sum(r.amount)::bigint FROM credits_demo.expected_finding f \
             JOIN credit_recharge r ON r.id = f.recharge_id WHERE f.kind = 'FAILED_PAID'",
            &[],
        )
        .unwrap()
        .get(0);

    let run = retry(&db, &["--yes"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["credited"], failed_paid.len(), "{run:?}");
    assert_eq!(json["credits_granted"], credits_owed, "{run:?}");
    assert_eq!(
        json["no_evidence"],
        unverified.len() + 1,
        "FAILED_UNVERIFIED and the unpaid checkout: {run:?}"
    );
    assert_eq!(json["skipped_locked"], 0);
    assert_eq!(json["unmatched_attestations"], Value::Array(vec![]));
    assert_credited(&db, &failed_paid, "FAILED_PAID");
    assert_untouched(&db, &ids(&unverified), "failed", "FAILED_UNVERIFIED");
    assert_untouched(&db, &unpaid[..1], "failed", "failed, unpaid checkout");
    assert_untouched(
        &db,
        &stuck_paid,
        "pending",
        "STUCK_PENDING_PAID without --include-pending",
    );
    assert_untouched(&db, &stuck, "pending", "STUCK_PENDING");
    assert_untouched(&db, &fresh, "pending", "fresh pending");
    for (id, pi) in &unverified {
        assert_eq!(action_of(&run, id).as_deref(), Some("no_evidence"), "{id}");
        if let Some(pi) = pi {
            let link = format!("https://dashboard.stripe.com/payments/{pi}");
            assert!(run.stderr.contains(&link), "stderr names {link}: {run:?}");
            let row = json["recharges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["recharge_id"] == id.as_str())
                .unwrap()
                .clone();
            assert_eq!(row["dashboard_url"], link.as_str());
        }
    }
    let audited: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_ops.repair_log WHERE command = 'retry-failed' \
             AND action = 'credited' AND operator = 'oncall' AND reason = 'INC-7'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(audited, failed_paid.len() as i64, "every credit is audited");
    let left = debug_checks(&db);
    assert!(!left.contains(&"FAILED_PAID".to_string()), "{left:?}");

    let before = db.fingerprint();
    let again = retry(&db, &["--yes"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["credited"], 0, "{again:?}");
    assert_eq!(db.fingerprint(), before, "a second run changes nothing");

    let pending = retry(&db, &["--yes", "--include-pending"]);
    assert_eq!(pending.code, 0, "{pending:?}");
    assert_eq!(pending.json()["credited"], stuck_paid.len(), "{pending:?}");
    assert_credited(
        &db,
        &stuck_paid,
        "STUCK_PENDING_PAID with --include-pending",
    );
    assert_untouched(&db, &stuck, "pending", "STUCK_PENDING");
    assert_untouched(&db, &fresh, "pending", "fresh pending");
    assert_untouched(&db, &unpaid[1..], "pending", "pending, unpaid checkout");
    assert_untouched(&db, &ids(&unverified), "failed", "FAILED_UNVERIFIED");
    let left = debug_checks(&db);
    for gone in ["FAILED_PAID", "STUCK_PENDING_PAID"] {
        assert!(!left.contains(&gone.to_string()), "{gone}: {left:?}");
    }

    let before = db.fingerprint();
    let again = retry(&db, &["--yes", "--include-pending"]);
    assert_eq!(again.json()["credited"], 0, "{again:?}");
    assert_eq!(db.fingerprint(), before, "a second run changes nothing");
}

#[test]
fn retry_failed_dry_run_and_refusal_write_nothing() {
    let db = TestDb::installed_incident(2000, 200).0;
    let failed_paid = ids(&planted(&db, "FAILED_PAID"));
    let before = db.fingerprint();
    let dry = retry(&db, &["--dry-run", "--include-pending"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(dry.json()["dry_run"], true);
    for id in &failed_paid {
        assert_eq!(
            action_of(&dry, id).as_deref(),
            Some("would be credited"),
            "{dry:?}"
        );
    }
    assert_eq!(db.fingerprint(), before, "--dry-run wrote something");
    // A planned credit has no balance yet and says none (V022).
    for row in dry.json()["recharges"].as_array().unwrap() {
        let detail = row["detail"].as_str().unwrap();
        assert!(!detail.contains("balance"), "{detail}");
    }

    // People get the first --limit rows of the table and are told of the
    // rest; scripts get every row (JSON above, CSV here).
    let candidates = dry.json()["recharges"].as_array().unwrap().len();
    assert!(candidates > 3, "{dry:?}");
    let table = db.credits(&[
        "retry-failed",
        "--dry-run",
        "--include-pending",
        "--limit",
        "3",
    ]);
    assert_eq!(table.code, 0, "{table:?}");
    let rows = table.stdout.lines().filter(|l| l.starts_with("| ")).count();
    assert_eq!(rows, 1 + 3, "a header and 3 rows: {table:?}");
    assert!(
        table
            .stderr
            .contains(&format!("{} more recharge(s) not shown", candidates - 3)),
        "{table:?}"
    );
    let csv = db.credits(&[
        "retry-failed",
        "--dry-run",
        "--include-pending",
        "--output",
        "csv",
    ]);
    assert_eq!(csv.stdout.lines().count(), 1 + candidates, "{csv:?}");

    let refused = retry(&db, &[]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("--yes"), "{refused:?}");
    assert_eq!(db.fingerprint(), before, "a refused run wrote something");
}

#[test]
fn an_attested_payment_is_credited_alone_and_audited_as_attested() {
    let db = TestDb::installed_incident(2000, 200).0;
    let first = retry(&db, &["--yes"]);
    assert_eq!(first.code, 0, "{first:?}");
    let unverified: Vec<(String, String)> = planted(&db, "FAILED_UNVERIFIED")
        .into_iter()
        .filter_map(|(id, pi)| pi.map(|pi| (id, pi)))
        .collect();
    assert!(unverified.len() >= 2, "two unverified payments to attest");
    let (attested_id, attested_pi) = &unverified[0];

    let run = retry(
        &db,
        &[
            "--yes",
            "--paid",
            attested_pi,
            "--paid",
            "pi_matches_nothing",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert_eq!(json["credited"], 1, "{run:?}");
    assert_eq!(action_of(&run, attested_id).as_deref(), Some("credited"));
    assert_eq!(
        json["unmatched_attestations"],
        serde_json::json!(["pi_matches_nothing"]),
        "{run:?}"
    );
    assert!(run.stderr.contains("pi_matches_nothing"), "{run:?}");
    assert_credited(&db, std::slice::from_ref(attested_id), "attested");
    let rest: Vec<String> = unverified[1..].iter().map(|(id, _)| id.clone()).collect();
    assert_untouched(&db, &rest, "failed", "FAILED_UNVERIFIED not attested");
    let evidence: String = db
        .client()
        .query_one(
            "SELECT detail->>'evidence' FROM credits_ops.repair_log \
             WHERE recharge_id = $1::text AND action = 'credited'",
            &[attested_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(evidence, "attested by oncall");

    // The same through a file, with comments and blank lines.
    let (file_id, file_pi) = &unverified[1];
    let dir = tempfile_dir(&db);
    let path = dir.join("paid.txt");
    std::fs::write(
        &path,
        format!("# verified in the Stripe dashboard by oncall\n\n  {file_pi}  # INC-7\n"),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let run = retry(&db, &["--yes", "--paid-file", path]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["credited"], 1, "{run:?}");
    assert_eq!(action_of(&run, file_id).as_deref(), Some("credited"));
    assert_credited(&db, std::slice::from_ref(file_id), "attested in a file");
    let evidence: String = db
        .client()
        .query_one(
            "SELECT detail->>'evidence' FROM credits_ops.repair_log \
             WHERE recharge_id = $1::text AND action = 'credited'",
            &[file_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(evidence, "attested by oncall");
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir(db: &TestDb) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("credits-retry-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bad_attestation_is_a_usage_error_and_writes_nothing() {
    let db = TestDb::installed_incident(2000, 200).0;
    let dir = tempfile_dir(&db);
    let bad_file = dir.join("bad.txt");
    std::fs::write(&bad_file, "pi_fine\nch_3Nabc\n").unwrap();
    let missing = dir.join("missing.txt");
    let before = db.fingerprint();
    for args in [
        vec!["--yes", "--paid", "ch_3Nabc"],
        vec!["--yes", "--paid-file", bad_file.to_str().unwrap()],
        vec!["--yes", "--paid-file", missing.to_str().unwrap()],
    ] {
        let run = retry(&db, &args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    assert_eq!(db.fingerprint(), before);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_locked_recharge_is_skipped_reported_and_credited_by_a_rerun() {
    let db = TestDb::installed_incident(2000, 200).0;
    let failed_paid = ids(&planted(&db, "FAILED_PAID"));
    let locked = failed_paid[0].clone();
    let mut holder = db.client();
    let mut lock = holder.transaction().unwrap();
    lock.execute(
        "SELECT 1 FROM credit_recharge WHERE id = $1::text::uuid FOR UPDATE",
        &[&locked],
    )
    .unwrap();
    let run = retry(&db, &["--yes", "--lock-timeout", "30s"]);
    assert_eq!(run.code, 5, "{run:?}");
    let json = run.json();
    assert_eq!(json["skipped_locked"], 1, "{run:?}");
    assert_eq!(json["credited"], failed_paid.len() - 1, "{run:?}");
    assert_eq!(action_of(&run, &locked).as_deref(), Some("skipped_locked"));
    assert!(run.stderr.contains(&locked), "{run:?}");
    assert_credited(&db, &failed_paid[1..], "FAILED_PAID not locked");
    lock.rollback().unwrap();
    assert_untouched(
        &db,
        std::slice::from_ref(&locked),
        "failed",
        "locked FAILED_PAID",
    );

    let rerun = retry(&db, &["--yes"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_eq!(rerun.json()["credited"], 1, "{rerun:?}");
    assert_credited(&db, &failed_paid, "FAILED_PAID");
}

#[test]
fn a_locked_balance_row_skips_only_that_recharge() {
    let db = TestDb::installed_incident(2000, 200).0;
    let failed_paid = ids(&planted(&db, "FAILED_PAID"));
    let target = failed_paid[0].clone();
    let user: String = db
        .client()
        .query_one(
            "SELECT user_id::text FROM credit_recharge WHERE id = $1::text::uuid",
            &[&target],
        )
        .unwrap()
        .get(0);
    // Only the recharges of other users are expected to go through.
    let others: Vec<String> = db
        .client()
        .query(
            "SELECT r.id::text FROM credits_demo.expected_finding f JOIN credit_recharge r ON r.id = f.recharge_id \
             WHERE f.kind = 'FAILED_PAID' AND r.user_id <> $1::text::uuid",
            &[&user],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut holder = db.client();
    let mut lock = holder.transaction().unwrap();
    lock.batch_execute(&format!(
        "INSERT INTO user_credit_balance (user_id, balance) VALUES ('{user}', 0) ON CONFLICT DO NOTHING; \
         SELECT 1 FROM user_credit_balance WHERE user_id = '{user}' FOR UPDATE"
    ))
    .unwrap();
    let run = retry(&db, &["--yes", "--lock-timeout", "1s"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(action_of(&run, &target).as_deref(), Some("skipped_locked"));
    assert_credited(&db, &others, "FAILED_PAID of other users");
    lock.rollback().unwrap();
    assert_untouched(
        &db,
        std::slice::from_ref(&target),
        "failed",
        "blocked FAILED_PAID",
    );
    let rerun = retry(&db, &["--yes"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_credited(&db, &failed_paid, "FAILED_PAID");
}

#[test]
fn the_runbook_entry_point_shares_the_logic() {
    let db = TestDb::installed_incident(2000, 200).0;
    let failed_paid = ids(&planted(&db, "FAILED_PAID"));
    let actions: Vec<(String, String)> = db
        .client()
        .query(
            "SELECT recharge_id::text, action FROM credits_ops.retry_failed_payments()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for id in &failed_paid {
        assert!(
            actions.contains(&(id.clone(), "credited".to_string())),
            "{id}: {actions:?}"
        );
    }
    assert_credited(&db, &failed_paid, "FAILED_PAID");
    let again = retry(&db, &["--yes"]);
    assert_eq!(again.json()["credited"], 0, "{again:?}");
    let command: String = db
        .client()
        .query_one(
            "SELECT min(command) FROM credits_ops.repair_log WHERE action = 'credited'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(command, "retry_failed_payments");
}

#[test]
fn retry_failed_commits_batch_by_batch_and_misses_none() {
    // More candidates than one batch holds (200): the pages must cover all.
    let (db, _) = TestDb::with_incident(40000, 4000);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let candidates: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_demo.expected_finding \
             WHERE kind IN ('FAILED_PAID', 'FAILED_UNVERIFIED', 'STUCK_PENDING_PAID', 'STUCK_PENDING')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(candidates > 400, "at least three batches: {candidates}");
    // --batch-size also caps the plan's pages: several read-only transactions.
    let run = db.credits(&[
        "retry-failed",
        "--include-pending",
        "--yes",
        "--batch-size",
        "150",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let rows = run.json()["recharges"].as_array().unwrap().clone();
    let reported: BTreeSet<&str> = rows
        .iter()
        .map(|row| row["recharge_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        (rows.len() as i64, reported.len() as i64),
        (candidates, candidates),
        "every candidate planned and reported once, across the plan's pages"
    );
    let paid: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_demo.expected_finding WHERE kind IN ('FAILED_PAID', 'STUCK_PENDING_PAID')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        run.json()["credited"],
        paid,
        "every paid recharge, across batches"
    );
    let batches = run.json()["batches"].as_i64().unwrap();
    assert!(
        batches * 150 >= paid,
        "batches of at most 150 recharges: {batches} for {paid}"
    );
    let credited_once: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_demo.expected_finding f WHERE f.kind IN ('FAILED_PAID', 'STUCK_PENDING_PAID') \
             AND (SELECT count(*) FROM credit_transaction t WHERE t.related_recharge_id = f.recharge_id AND t.type = 'recharge') = 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(credited_once, paid);
    db.fold_kept_facts();
    let before = db.fingerprint();
    assert_eq!(
        db.credits(&["retry-failed", "--include-pending", "--yes"])
            .code,
        0
    );
    assert_eq!(db.fingerprint(), before, "a second run changes nothing");
}
