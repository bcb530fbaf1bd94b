//! Losing the server: PostgreSQL restarted (fast shutdown, as when a
//! managed database fails over or restarts) in the middle of `bulk-fix`,
//! on a cluster of its own so the other tests keep theirs.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use credits::cluster::{LocalCluster, Options};
use credits::reference;

use crate::harness::credits_with_env;

fn count(client: &mut postgres::Client, query: &str) -> i64 {
    client.query_one(query, &[]).unwrap().get(0)
}

#[test]
fn a_server_restart_mid_bulk_fix_says_what_was_done_and_a_rerun_finishes() {
    let mut cluster = LocalCluster::start_with(false, &Options::default())
        .expect("starting a PostgreSQL of its own");
    postgres::Client::connect(&cluster.socket_conninfo("postgres"), postgres::NoTls)
        .unwrap()
        .batch_execute("CREATE DATABASE restart")
        .unwrap();
    let url = cluster.conninfo("restart");
    let connect = || postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut client = connect();
    reference::create_schema(&mut client).unwrap();
    reference::generate_incident(&mut client, 1000, 100, 7).unwrap();
    let install = credits_with_env(&["install", "--yes"], &[("DATABASE_URL", &url)]);
    assert_eq!(install.code, 0, "{install:?}");
    // Each credit takes a moment, so the restart lands mid-run, not after it.
    client
        .batch_execute(
            "CREATE FUNCTION slow_ledger() RETURNS trigger LANGUAGE plpgsql AS $$ \
               BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$; \
             CREATE TRIGGER slow_ledger AFTER INSERT ON credit_transaction \
               FOR EACH ROW EXECUTE FUNCTION slow_ledger();",
        )
        .unwrap();
    let missing = count(
        &mut client,
        "SELECT count(*) FROM credits_demo.expected_finding WHERE kind = 'MISSING_TRANSACTION'",
    );
    let before = count(
        &mut client,
        "SELECT count(*) FROM credit_transaction WHERE type = 'recharge'",
    );
    drop(client);

    let child = Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(["bulk-fix", "--yes", "--batch-size", "1"])
        .env("DATABASE_URL", &url)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until some batches are committed, then restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut watcher = connect();
    while count(
        &mut watcher,
        "SELECT count(*) FROM credits_ops.repair_log WHERE action = 'credited'",
    ) < 3
    {
        assert!(
            Instant::now() < deadline,
            "bulk-fix committed nothing within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(watcher);
    cluster.restart_fast().expect("restarting the server");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(
        stderr.contains("stopped the run")
            && stderr.contains("repaired and committed before it")
            && stderr.contains("nothing of the transaction that failed was")
            && stderr.contains("run the same command again"),
        "names what was done and what was not: {stderr}"
    );

    let mut client = connect();
    let partial = count(
        &mut client,
        "SELECT count(*) FROM credit_transaction WHERE type = 'recharge'",
    ) - before;
    assert!(
        partial > 0 && partial < missing,
        "the restart landed mid-run ({partial} of {missing})"
    );
    let rerun = credits_with_env(&["bulk-fix", "--yes"], &[("DATABASE_URL", &url)]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM credit_transaction WHERE type = 'recharge'"
        ) - before,
        missing,
        "every missing credit exactly once"
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM (SELECT t.user_id FROM credit_transaction t GROUP BY t.user_id \
             HAVING sum(t.amount) IS DISTINCT FROM (SELECT b.balance FROM user_credit_balance b \
             WHERE b.user_id = t.user_id)) x"
        ),
        0,
        "every balance matches its ledger"
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM credits_ops.repair_log l WHERE l.action = 'credited' AND NOT EXISTS \
             (SELECT FROM credit_transaction t WHERE t.id::text = l.detail ->> 'transaction_id')"
        ),
        0,
        "every audited credit is in the ledger"
    );
}
