//! Bad input not covered elsewhere: a read-only database (as on a replica),
//! an empty database, a server that accepts but never answers.

use std::time::{Duration, Instant};

use crate::harness::{Run, TestDb, credits_with_env};

fn set_read_only(db: &TestDb) {
    db.client()
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            db.name
        ))
        .unwrap();
}

fn assert_read_only_refusal(db: &TestDb, args: &[&str], before: &[(String, String)]) {
    let run = db.credits(args);
    assert_eq!(run.code, 3, "{args:?}: {run:?}");
    assert!(
        run.stderr.contains("read-only"),
        "{args:?} says the database is read-only: {run:?}"
    );
    assert!(
        run.stderr.contains("nothing was written"),
        "{args:?} says nothing was written: {run:?}"
    );
    assert_eq!(db.fingerprint(), before, "{args:?} wrote something");
}

#[test]
fn a_read_only_database_refuses_every_write_clearly_and_nothing_is_written() {
    // install, on a database where it is not installed yet.
    let (fresh, _) = TestDb::with_incident(200, 20);
    set_read_only(&fresh);
    let before = fresh.fingerprint();
    assert_read_only_refusal(&fresh, &["install", "--yes"], &before);

    // The repairs and the pause, on an installed database with work to do.
    let (db, _) = TestDb::with_incident(400, 40);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let user = db.planted("MISSING_TRANSACTION").user;
    set_read_only(&db);
    let before = db.fingerprint();
    for args in [
        &["fix-user", &user, "--yes"][..],
        &["bulk-fix", "--yes"],
        &["retry-failed", "--include-pending", "--yes"],
        &["pause-packages", "--yes"],
    ] {
        assert_read_only_refusal(&db, args, &before);
    }
    // Diagnosis still works there: it only reads.
    let debug = db.credits(&["debug", "--output", "json"]);
    assert_eq!(debug.code, 1, "{debug:?}");
}

#[test]
fn an_empty_database_fails_the_contract_for_every_command_that_needs_it() {
    let db = TestDb::new();
    db.client()
        .batch_execute(
            "DROP TABLE credit_transaction, user_credit_balance, credit_recharge, \
             credit_package, stripe_webhook_event CASCADE",
        )
        .unwrap();
    let before = db.fingerprint();
    let user = "00000000-0000-4000-8000-000000000001";
    for args in [
        &["debug"][..],
        &["install", "--yes"],
        &["fix-user", user, "--yes"],
        &["bulk-fix", "--yes"],
        &["retry-failed", "--yes"],
        &["pause-packages", "--yes"],
        &["resume-packages", "--yes"],
        &["packages"],
        &["support", user],
        &["rls-fix", "--check"],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 4, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("schema contract") && run.stderr.contains("credit_recharge"),
            "{args:?} names what is missing: {run:?}"
        );
        assert_eq!(db.fingerprint(), before, "{args:?} wrote something");
    }
    // A Nagios check: every failure is UNKNOWN (3), with the same reason.
    let health = db.credits(&["health"]);
    assert_eq!(health.code, 3, "{health:?}");
    assert!(
        health.stdout.starts_with("CREDITS UNKNOWN") && health.stdout.contains("schema contract"),
        "{health:?}"
    );
}

#[test]
fn a_server_that_accepts_but_never_answers_fails_within_the_connect_timeout() {
    // A listener nobody reads from: the TCP connect succeeds, the startup
    // packet is never answered.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!(
        "host=127.0.0.1 port={port} user=app password=Hang-pw-77 dbname=app connect_timeout=2"
    );
    let started = Instant::now();
    let run: Run = credits_with_env(&["status"], &[("DATABASE_URL", &url)]);
    let took = started.elapsed();
    drop(listener);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "names what failed: {run:?}"
    );
    assert!(!run.stderr.contains("Hang-pw-77"), "{run:?}");
    // A bound, not a measurement: the CLI gives up on its own (2 x
    // connect_timeout) instead of hanging until the test harness kills it.
    assert!(took < Duration::from_secs(30), "took {took:?}: {run:?}");
}

#[test]
fn a_bad_since_is_a_usage_error_before_any_connection() {
    // Port 1 on loopback: nothing listens, so a connection attempt would be exit 3.
    for command in ["debug", "bulk-fix", "retry-failed", "log"] {
        let run = crate::harness::credits_with_env(
            &[command, "--since", "nonsense"],
            &[("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")],
        );
        assert_eq!(run.code, 2, "{command}: {run:?}");
        assert!(run.stderr.contains("not a duration"), "{command}: {run:?}");
    }
}

#[test]
fn messages_say_what_to_do_next() {
    // No DATABASE_URL at all: say so, rather than only "connection refused".
    let run = crate::harness::credits_with_env(&["status"], &[("PGPORT", "1")]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("DATABASE_URL is not set"), "{run:?}");
    // A bad --action lists the valid ones.
    let run = crate::harness::credits_with_env(&["log", "--action", "nonsense"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("balance_corrected"), "{run:?}");
    // A statement timeout names the option that raises it. The diagnosis
    // waits behind a lock held meanwhile, so it is the statement that times
    // out, whatever the machine's load (with a timeout of a millisecond or
    // two, any statement of the preflight might).
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let mut holder = db.client();
    let mut lock = holder.transaction().unwrap();
    lock.batch_execute("LOCK TABLE credit_recharge IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let run = db.credits(&["debug", "--statement-timeout", "300ms"]);
    lock.rollback().unwrap();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("--statement-timeout"), "{run:?}");
}
