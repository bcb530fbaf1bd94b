//! Every command through PgBouncer in transaction pool mode, as through
//! Supabase's pooler on port 6543: the CLI must not rely on session state
//! (prepared statements, settings, locks) outliving a transaction.
//!
//! The tests start Debian's `pgbouncer` on loopback in front of the test
//! server. Without it they are skipped with a reason, except under `CI=true`,
//! where they fail (`.ci/run` installs it), so CI cannot skip them silently.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Run, TestDb, credits_with_env};

/// A PgBouncer process, stopped when dropped.
struct Bouncer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn pgbouncer_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("pgbouncer"))
        .find(|file| file.is_file())
}

/// The uid/gid of the `postgres` OS user when we are root (PgBouncer, like
/// PostgreSQL, refuses to run as root).
fn run_as() -> Option<(u32, u32)> {
    let uid = Command::new("id").arg("-u").output().ok()?.stdout;
    if String::from_utf8_lossy(&uid).trim() != "0" {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres") && fields.len() > 3)
        .map(|fields| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

/// Starts PgBouncer in front of the server holding `db`, or explains why not.
fn start_bouncer(db: &TestDb) -> Option<Bouncer> {
    let Some(binary) = pgbouncer_binary() else {
        let reason = "pgbouncer is not installed (Debian: apt-get install -y pgbouncer; .ci/run installs it)";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{reason}: under CI=true the pooler tests must run");
        }
        eprintln!("SKIPPED pooler test: {reason}");
        return None;
    };
    let row = db
        .client()
        .query_one(
            "SELECT coalesce(host(inet_server_addr()), '127.0.0.1'), current_setting('port')",
            &[],
        )
        .unwrap();
    let (host, server_port): (String, String) = (row.get(0), row.get(1));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("credits-pgbouncer-{}-{port}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
    fs::write(
        dir.join("pgbouncer.ini"),
        format!(
            "[databases]\n* = host={host} port={server_port}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\npool_mode = transaction\n\
             default_pool_size = 4\nmax_client_conn = 200\n\
             ignore_startup_parameters = extra_float_digits\n",
            dir.join("userlist.txt").display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("pgbouncer.log")).unwrap();
    let mut command = Command::new(binary);
    command
        .arg(dir.join("pgbouncer.ini"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if let Some((uid, gid)) = run_as() {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        command.uid(uid).gid(gid);
    }
    let child = command.spawn().expect("starting pgbouncer");
    let mut bouncer = Bouncer { child, dir, port };
    let conninfo = bouncer.conninfo(&db.name);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = bouncer.child.try_wait() {
            panic!(
                "pgbouncer exited ({status}): {}",
                fs::read_to_string(bouncer.dir.join("pgbouncer.log")).unwrap_or_default()
            );
        }
        if postgres::Client::connect(&conninfo, postgres::NoTls).is_ok() {
            return Some(bouncer);
        }
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not accept connections within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Bouncer {
    fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname} sslmode=disable",
            self.port
        )
    }

    fn credits(&self, db: &TestDb, args: &[&str]) -> Run {
        credits_with_env(args, &[("DATABASE_URL", &self.conninfo(&db.name))])
    }
}

#[test]
fn every_command_works_through_pgbouncer_in_transaction_mode() {
    let (db, _) = TestDb::with_incident(1000, 100);
    let Some(bouncer) = start_bouncer(&db) else {
        return;
    };
    let run = |args: &[&str]| bouncer.credits(&db, args);
    let ok = |args: &[&str], code: i32| {
        let result = run(args);
        assert_eq!(result.code, code, "through pgbouncer {args:?}: {result:?}");
        result
    };
    // Writes, each idempotent: the second run changes nothing.
    let twice = |args: &[&str]| {
        ok(args, 0);
        db.fold_kept_facts();
        let after = db.fingerprint();
        ok(args, 0);
        assert_eq!(
            db.fingerprint(),
            after,
            "a second {args:?} changed something"
        );
    };

    let status = ok(&["status", "--output", "json"], 0);
    assert!(status.stderr.contains("pending"), "{status:?}");
    assert!(
        status.json()["database"]
            .as_str()
            .unwrap()
            .contains(&format!(":{}/", bouncer.port)),
        "connected through pgbouncer: {status:?}"
    );
    twice(&["install", "--yes"]);
    // The balance audit trail on, so every write below is recorded too.
    twice(&["audit", "enable", "--yes"]);

    let debug = ok(&["debug", "--output", "json"], 1);
    assert!(
        debug.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "MISSING_TRANSACTION"),
        "{debug:?}"
    );
    let user = db.planted("MISSING_TRANSACTION").user;
    let credited = |db: &TestDb| -> i64 {
        db.client()
            .query_one(
                "SELECT count(*) FROM credit_transaction WHERE type = 'recharge'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let before = credited(&db);
    twice(&["fix-user", &user, "--yes", "--reason", "pooler"]);
    assert!(
        credited(&db) > before,
        "fix-user credited through the pooler"
    );
    ok(&["support", &user, "--output", "json"], 0);

    twice(&["bulk-fix", "--yes", "--batch-size", "5"]);
    twice(&["retry-failed", "--include-pending", "--yes"]);
    let after = ok(&["debug", "--output", "json"], 1);
    assert!(
        !after.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "MISSING_TRANSACTION" || f["check"] == "BALANCE_DRIFT"),
        "{after:?}"
    );

    twice(&["pause-packages", "--yes", "--reason", "pooler"]);
    let packages = ok(&["packages", "--output", "json"], 0);
    assert!(packages.stdout.contains("pooler"), "{packages:?}");
    twice(&["resume-packages", "--yes"]);
    let log = ok(&["log", "--output", "json"], 0);
    assert!(log.stdout.contains("pooler"), "{log:?}");
    let writers = ok(&["log", "--writers", "--output", "json"], 0);
    assert!(
        writers.json()["writers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["by_credits"] == true),
        "the repairs' writes are in the trail: {writers:?}"
    );
    let trail = ok(&["audit", "status", "--output", "json"], 0);
    assert_eq!(trail.json()["trail"][0]["recording"], "on", "{trail:?}");

    let health = run(&["health"]);
    assert!(
        health.stdout.starts_with("CREDITS ") && !health.stdout.starts_with("CREDITS UNKNOWN"),
        "{health:?}"
    );
    let rls = run(&["rls-fix", "--check", "--output", "json"]);
    assert!([0, 1].contains(&rls.code), "{rls:?}");
}
