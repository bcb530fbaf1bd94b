//! `--read-url`: the commands that only read run on a real hot standby
//! (pg_basebackup -R of a throwaway primary, both on loopback), the repairs
//! on the primary, and a replica too far behind is refused.

use std::time::{Duration, Instant};

use credits::cluster::LocalCluster;
use credits::reference;
use postgres::{Client, NoTls};

use crate::harness::{Run, credits_with_env};

fn run(primary: &str, replica: &str, args: &[&str]) -> Run {
    credits_with_env(
        args,
        &[("DATABASE_URL", primary), ("CREDITS_READ_URL", replica)],
    )
}

fn problems(run: &Run) -> i64 {
    run.json()["problems"]
        .as_i64()
        .expect("debug reports its problems")
}

/// Waits until the standby has replayed everything the primary wrote.
fn caught_up(primary: &mut Client, standby: &mut Client) {
    let lsn: String = primary
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .unwrap()
        .get(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !standby
        .query_one(
            "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
            &[&lsn],
        )
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(Instant::now() < deadline, "the standby did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reads_run_on_the_replica_writes_on_the_primary_and_a_lagging_replica_is_refused() {
    let primary_cluster = LocalCluster::start(false).expect("starting the primary");
    let mut admin = Client::connect(&primary_cluster.conninfo("postgres"), NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE app").unwrap();
    let primary = primary_cluster.conninfo("app");
    let mut app = Client::connect(&primary, NoTls).unwrap();
    reference::create_schema(&mut app).unwrap();
    reference::generate_incident(&mut app, 2000, 200, 7).unwrap();
    let install = credits_with_env(&["install", "--yes"], &[("DATABASE_URL", &primary)]);
    assert_eq!(install.code, 0, "{install:?}");

    let standby_cluster = primary_cluster.start_standby().expect("starting a standby");
    let replica = standby_cluster.conninfo("app");
    let mut standby = Client::connect(&replica, NoTls).unwrap();
    caught_up(&mut app, &mut standby);

    // Reads go to the replica, and say so.
    let before = run(&primary, &replica, &["debug", "--output", "json"]);
    assert_eq!(before.code, 1, "{before:?}");
    let port = format!(":{}/", standby_cluster.port());
    assert!(
        before.json()["database"].as_str().unwrap().contains(&port),
        "debug read the replica: {before:?}"
    );
    assert!(
        before.stderr.contains("reading from the replica"),
        "{before:?}"
    );
    for args in [
        &["health", "--output", "json"][..],
        &["log", "--output", "json"],
        &["support", "--output", "json", &sample_user(&mut app)],
    ] {
        let read = run(&primary, &replica, args);
        assert!(
            read.stderr.contains("reading from the replica"),
            "{args:?} reads the replica: {read:?}"
        );
        assert_ne!(read.code, 4, "{args:?}: {read:?}");
    }

    // A repair writes on the primary even with --read-url (a standby would
    // refuse the writes), and the replica then sees what it did.
    let repair = run(&primary, &replica, &["bulk-fix", "--yes"]);
    assert_eq!(repair.code, 0, "{repair:?}");
    caught_up(&mut app, &mut standby);
    let after = run(&primary, &replica, &["debug", "--output", "json"]);
    assert!(
        problems(&after) < problems(&before),
        "the replica shows the repair: {} then {}",
        problems(&before),
        problems(&after)
    );

    // Replay paused while the primary moves on: the replica falls behind,
    // and past --max-lag nothing is read there.
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .unwrap();
    app.batch_execute("CREATE TABLE public.written_after_the_pause (id int)")
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let lagging = run(&primary, &replica, &["debug", "--max-lag", "1s"]);
    assert_eq!(lagging.code, 4, "{lagging:?}");
    assert!(
        lagging
            .stderr
            .contains("behind its primary, more than --max-lag 1s")
            && lagging.stderr.contains("nothing was read"),
        "{lagging:?}"
    );
    assert_eq!(lagging.stdout, "", "nothing printed as if current");
    let patient = run(&primary, &replica, &["debug", "--max-lag", "10min"]);
    assert_ne!(patient.code, 4, "{patient:?}");
    standby
        .batch_execute("SELECT pg_wal_replay_resume()")
        .unwrap();
}

fn sample_user(app: &mut Client) -> String {
    app.query_one("SELECT user_id::text FROM credit_recharge LIMIT 1", &[])
        .unwrap()
        .get(0)
}
