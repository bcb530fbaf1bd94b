//! One PostgreSQL server per test run, one database per test.
//!
//! Without `CREDITS_TEST_DATABASE_URL`, the first test to need it starts a
//! throwaway cluster (the same code as `credits demo`); its watchdog stops it
//! and removes its files when the test process ends, also on failure or
//! Ctrl-C. Every test database is created from a template holding the
//! reference schema, so tests run in parallel without sharing data.

use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use credits::cluster::LocalCluster;
use credits::reference;

const TEMPLATE: &str = "credits_test_template";

struct Server {
    /// A connection string for the server's maintenance database.
    admin: String,
    external: bool,
    _cluster: Option<LocalCluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let (admin, cluster) = match std::env::var("CREDITS_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let cluster = LocalCluster::start(false).expect("starting a throwaway PostgreSQL");
                (cluster.conninfo("postgres"), Some(cluster))
            }
        };
        let external = cluster.is_none();
        let mut client = connect(&admin);
        for statement in [
            format!("DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"),
            format!("CREATE DATABASE {TEMPLATE}"),
        ] {
            client
                .batch_execute(&statement)
                .expect("creating the template database");
        }
        let mut template = connect(&with_dbname(&admin, TEMPLATE));
        reference::create_schema(&mut template).expect("loading the reference schema");
        Server {
            admin,
            external,
            _cluster: cluster,
        }
    })
}

/// A connection string naming another database on the same server.
fn with_dbname(conninfo: &str, dbname: &str) -> String {
    if conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://") {
        let mut url = url::Url::parse(conninfo).expect("CREDITS_TEST_DATABASE_URL is a valid URL");
        url.set_path(dbname);
        url.to_string()
    } else {
        format!("{conninfo} dbname={dbname}")
    }
}

pub fn connect(conninfo: &str) -> postgres::Client {
    credits::connect::connect(Some(conninfo))
        .expect("connecting to the test server")
        .0
}

/// A fresh database with the reference schema (roles, auth, app tables, no data).
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A fresh database of its own, made by `CREATE DATABASE <name> <options>`.
    fn create(options: &str) -> TestDb {
        let server = server();
        let name = format!(
            "credits_test_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        connect(&server.admin)
            .batch_execute(&format!("CREATE DATABASE {name} {options}"))
            .expect("creating a test database");
        let url = with_dbname(&server.admin, &name);
        TestDb { name, url }
    }

    pub fn new() -> TestDb {
        TestDb::create(&format!("TEMPLATE {TEMPLATE}"))
    }

    /// A database holding one of the real-app shapes of
    /// `sql/reference/shapes/` (schema and planted incident), not the
    /// reference schema.
    pub fn shape(shape: reference::Shape) -> TestDb {
        let db = TestDb::create("");
        reference::load_shape(&mut db.client(), shape).expect("loading the shape");
        db
    }

    /// A database with the reference incident generated in it.
    pub fn with_incident(recharges: i32, users: i32) -> (TestDb, Vec<(String, i32)>) {
        let db = TestDb::new();
        let planted = reference::generate_incident(&mut db.client(), recharges, users, 42)
            .expect("generating the incident");
        (db, planted)
    }

    /// A database with the reference incident and credits installed.
    pub fn installed_incident(recharges: i32, users: i32) -> (TestDb, Vec<(String, i32)>) {
        let (db, planted) = TestDb::with_incident(recharges, users);
        let install = db.credits(&["install", "--yes"]);
        assert_eq!(install.code, 0, "{install:?}");
        (db, planted)
    }

    /// The ledger invariants (tests/e2e/sql/invariants.sql) that do not
    /// hold, with how many rows break each; empty when all hold.
    pub fn violations(&self) -> Vec<(String, i64)> {
        self.client()
            .query(include_str!("sql/invariants.sql"), &[])
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .filter(|(_, n): &(String, i64)| *n > 0)
            .collect()
    }

    /// A database where every check passes, the webhook delivered recently,
    /// and credits is installed.
    pub fn healthy() -> TestDb {
        let db = TestDb::new();
        db.client()
            .batch_execute(
                "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-4000-8000-0000000000aa', 'ok@example.com');
                 INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, created_at) VALUES
                   ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000aa', 100, 'completed', 'pi_ok1', now() - interval '20 minutes'),
                   ('00000000-0000-4000-8000-0000000000b2', '00000000-0000-4000-8000-0000000000aa', 500, 'pending', 'pi_ok2', now() - interval '5 minutes');
                 INSERT INTO credit_transaction (user_id, amount, type, related_recharge_id) VALUES
                   ('00000000-0000-4000-8000-0000000000aa', 100, 'recharge', '00000000-0000-4000-8000-0000000000b1'),
                   ('00000000-0000-4000-8000-0000000000aa', -30, 'consume', NULL);
                 INSERT INTO user_credit_balance (user_id, balance) VALUES ('00000000-0000-4000-8000-0000000000aa', 70);
                 INSERT INTO stripe_webhook_event (id, type, payment_intent_id, payload, status, received_at) VALUES
                   ('evt_ok1', 'payment_intent.succeeded', 'pi_ok1', '{}', 'processed', now() - interval '19 minutes');
                 ALTER TABLE credit_package ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE credit_recharge ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE credit_transaction ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE user_credit_balance ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE stripe_webhook_event ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY own ON credit_transaction FOR SELECT TO authenticated USING (user_id = (select auth.uid()));",
            )
            .unwrap();
        let install = db.credits(&["install", "--yes"]);
        assert_eq!(install.code, 0, "{install:?}");
        db
    }

    /// A payment the incident broke with `kind` (a per-recharge kind): the
    /// first by user id, so every test picks the same one.
    pub fn planted(&self, kind: &str) -> Planted {
        let row = self
            .client()
            .query_one(
                "SELECT r.user_id::text, u.email, r.payment_intent_id \
                 FROM credits_demo.expected_finding f \
                 JOIN credit_recharge r ON r.id = f.recharge_id JOIN auth.users u ON u.id = r.user_id \
                 WHERE f.kind = $1 ORDER BY r.user_id, r.id LIMIT 1",
                &[&kind],
            )
            .unwrap_or_else(|e| panic!("no planted {kind}: {e}"));
        Planted {
            user: row.get(0),
            email: row.get(1),
            payment_intent: row.get(2),
        }
    }

    pub fn client(&self) -> postgres::Client {
        connect(&self.url)
    }

    /// Runs the real `credits` binary against this database, without a
    /// terminal on stdin (as from a script or CI).
    pub fn credits(&self, args: &[&str]) -> Run {
        credits_with_env(args, &[("DATABASE_URL", &self.url)])
    }

    /// As [`TestDb::credits`], with a mapping file (`CREDITS_CONFIG`).
    pub fn credits_mapped(&self, args: &[&str], config: Option<&std::path::Path>) -> Run {
        match config {
            Some(path) => credits_with_env(
                args,
                &[
                    ("DATABASE_URL", &self.url),
                    ("CREDITS_CONFIG", path.to_str().unwrap()),
                ],
            ),
            None => self.credits(args),
        }
    }

    /// Folds the marks of writes into the kept facts (V019), as the next
    /// debug, health, bulk-fix or retry-failed would: before a fingerprint that a rerun
    /// must leave unchanged, so only what the rerun itself writes counts.
    pub fn fold_kept_facts(&self) {
        self.client()
            .batch_execute("SELECT credits_ops.refresh_kept_facts(1000000)")
            .unwrap();
    }

    /// A fingerprint of everything in the database: every relation's name
    /// and contents, every schema, function and index. Equal fingerprints
    /// mean nothing was written.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let mut client = self.client();
        let objects = client
            .query(
                "SELECT n.nspname || '.' || c.relname AS name, c.relkind::text AS kind, \
                        format('%I.%I', n.nspname, c.relname) AS quoted \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                   AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' \
                 UNION ALL SELECT p.oid::regprocedure::text, 'function', NULL FROM pg_proc p \
                   JOIN pg_namespace n ON n.oid = p.pronamespace \
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 UNION ALL SELECT nspname, 'schema', NULL FROM pg_namespace \
                 ORDER BY 1",
                &[],
            )
            .unwrap();
        objects
            .iter()
            .map(|row| {
                let name: String = row.get("name");
                let kind: String = row.get("kind");
                let contents = match (kind.as_str(), row.get::<_, Option<String>>("quoted")) {
                    ("r", Some(quoted)) => client
                        .query_one(&format!("SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {quoted} t"), &[])
                        .unwrap()
                        .get(0),
                    _ => kind,
                };
                (name, contents)
            })
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A throwaway cluster goes away whole; on a shared server, clean up.
        if server().external {
            let _ = connect(&server().admin).batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `credits` with only the given environment variables added (and the
/// libpq ones removed, so the developer's own settings cannot leak in).
pub fn credits_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credits"));
    command.args(args).env("NO_COLOR", "1");
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGPASSFILE",
        "CREDITS_READ_URL",
    ] {
        command.env_remove(var);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("running credits");
    Run {
        code: status.code().expect("credits exited normally"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// One planted problem payment: its user (id and email) and payment intent.
pub struct Planted {
    pub user: String,
    pub email: String,
    pub payment_intent: Option<String>,
}
