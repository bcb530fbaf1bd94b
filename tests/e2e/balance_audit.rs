//! The balance audit trail (`credits audit`): three writers act on each real
//! app layout with the trail on (a consumption endpoint that debits
//! correctly, a buggy admin script that adds to balances without a ledger
//! row, and the webhook), and `debug` names exactly the buggy writer's
//! transactions. Also: the repairs are never flagged, a failure inside the
//! trigger never fails the app's write, and the API roles get nothing.

use std::collections::BTreeSet;

use credits::reference::Shape;

use crate::harness::{Run, TestDb};
use crate::shapes::{Names, PRISMA, RUNBOOK, SERIAL, Shaped};

const CHECK: &str = "BALANCE_MOVED_WITHOUT_LEDGER";

/// (user id, detail) of each finding of the check.
fn flagged(run: &Run) -> Vec<(String, String)> {
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == CHECK)
        .map(|f| {
            (
                f["user_id"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs `statements` in one transaction as a writer named `application`,
/// each with the user id as $1.
fn write_as(db: &TestDb, application: &str, statements: &[String], user: &str) {
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    tx.execute(
        "SELECT set_config('application_name', $1, true)",
        &[&application],
    )
    .unwrap();
    for statement in statements {
        tx.execute(statement.as_str(), &[&user])
            .unwrap_or_else(|e| panic!("{application}: {statement}: {e}"));
    }
    tx.commit().unwrap();
}

fn buggy_admin(names: &Names) -> Vec<String> {
    vec![format!(
        "UPDATE {b} SET balance = balance + 7 WHERE {u}::text = $1",
        b = names.balance,
        u = names.user_id
    )]
}

fn three_writers(shape: Shape, names: &'static Names, consumption: &[&str]) {
    let app = Shaped::new(shape, names);
    let install = app.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");

    let before = app.db.fingerprint();
    let dry = app.credits(&["audit", "enable", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stderr.contains("7 trigger(s)"), "{dry:?}");
    assert_eq!(app.db.fingerprint(), before, "audit enable --dry-run wrote");
    let enabled = app.credits(&["audit", "enable", "--yes", "--reason", "INC-16"]);
    assert_eq!(enabled.code, 0, "{enabled:?}");
    let status = app.credits(&["audit", "status", "--output", "json"]);
    assert_eq!(status.json()["trail"][0]["recording"], "on", "{status:?}");
    let on = app.db.fingerprint();
    let again = app.credits(&["audit", "enable", "--yes", "--output", "json"]);
    assert_eq!(again.json()["changed"], false, "{again:?}");
    assert_eq!(
        app.db.fingerprint(),
        on,
        "a second enable changed something"
    );

    let users: Vec<String> = app
        .db
        .client()
        .query(
            &format!(
                "SELECT {u}::text FROM {b} WHERE balance >= 5 ORDER BY 1 LIMIT 2",
                u = names.user_id,
                b = names.balance
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(users.len(), 2);
    let consumption: Vec<String> = consumption.iter().map(|s| s.to_string()).collect();

    // The three writers, each in its own transactions.
    write_as(&app.db, "consume-api", &consumption, &users[0]);
    write_as(&app.db, "admin-script", &buggy_admin(names), &users[0]);
    write_as(&app.db, "admin-script", &buggy_admin(names), &users[1]);
    write_as(&app.db, "consume-api", &consumption, &users[1]);
    let unpaid: String = app
        .db
        .client()
        .query_one(
            "SELECT recharge_id FROM credits_fixture.expected_finding WHERE kind = 'MISSING_TRANSACTION'",
            &[],
        )
        .unwrap()
        .get(0);
    let mut webhook = app.db.client();
    webhook
        .batch_execute("SET application_name = 'stripe-webhook'")
        .unwrap();
    let action: String = webhook
        .query_one(
            "SELECT action FROM credits_ops.apply_recharge($1::text, 'webhook', NULL, 'webhook')",
            &[&unpaid],
        )
        .unwrap()
        .get(0);
    assert_eq!(action, "credited");

    // Exactly the buggy writer's two transactions, named.
    let debug = app.credits(&["debug", "--all", "--output", "json"]);
    assert_eq!(debug.code, 1, "{debug:?}");
    let found = flagged(&debug);
    assert_eq!(
        found
            .iter()
            .map(|(user, _)| user.clone())
            .collect::<BTreeSet<_>>(),
        users.iter().cloned().collect::<BTreeSet<_>>(),
        "{shape:?}: {found:?}"
    );
    assert_eq!(found.len(), 2, "{shape:?}: {found:?}");
    let role: String = app
        .db
        .client()
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    for (_, detail) in &found {
        assert!(
            detail.contains("'admin-script'") && detail.contains(&format!("role {role}")),
            "{shape:?}: {detail}"
        );
        assert!(detail.contains("(+7), ledger 0 in 0 row(s)"), "{detail}");
    }
    let health = app.credits(&["health", "--output", "json"]);
    assert_eq!(
        health.json()["metrics"]["balance_moved_without_ledger"]["value"],
        2,
        "{health:?}"
    );

    // The trail of a user shows every writer, flagged or not.
    let log = app.credits(&["log", "--writers", "--user", &users[0], "--output", "json"]);
    assert_eq!(log.code, 0, "{log:?}");
    let writers: Vec<(String, bool)> = log.json()["writers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["application_name"].as_str().unwrap().to_string(),
                w["moved_without_ledger"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        writers.contains(&("consume-api".to_string(), false)),
        "{log:?}"
    );
    assert!(
        writers.contains(&("admin-script".to_string(), true)),
        "{log:?}"
    );
    let support = app.credits(&["support", &users[1], "--output", "json"]);
    assert!(
        support.json()["writers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["application_name"] == "admin-script"),
        "{support:?}"
    );

    // The repair of the drift it caused is not flagged, and settles it.
    let fixed = app.credits(&["bulk-fix", "--yes", "--reason", "INC-16"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    let after = app.credits(&["debug", "--all", "--output", "json"]);
    assert_eq!(flagged(&after), Vec::new(), "{after:?}");
    assert_eq!(app.violations(), Vec::<String>::new(), "{shape:?}");

    // Disabled: the triggers go, the rows stay, new writes go unrecorded.
    let rows = |app: &Shaped| app.count("SELECT count(*) FROM credits_ops.balance_audit");
    let kept = rows(&app);
    let disabled = app.credits(&["audit", "disable", "--yes"]);
    assert_eq!(disabled.code, 0, "{disabled:?}");
    let status = app.credits(&["audit", "status", "--output", "json"]);
    assert_eq!(status.json()["trail"][0]["recording"], "off", "{status:?}");
    write_as(&app.db, "admin-script", &buggy_admin(names), &users[0]);
    assert_eq!(rows(&app), kept);
}

#[test]
fn the_buggy_writer_is_named_on_the_runbooks_app() {
    three_writers(
        Shape::Runbook,
        &RUNBOOK,
        &[
            "INSERT INTO credit_transaction (id, user_id, amount, type, balance_after) \
             SELECT 'cz' || substr(md5(random()::text), 1, 22), b.user_id, -5, 'consumption', b.balance - 5 \
             FROM user_credit_balance b WHERE b.user_id = $1",
            "UPDATE user_credit_balance SET balance = balance - 5, total_consumed = total_consumed + 5, \
             updated_at = now() WHERE user_id = $1",
        ],
    );
}

#[test]
fn the_buggy_writer_is_named_on_a_prisma_app() {
    three_writers(
        Shape::Prisma,
        &PRISMA,
        &[
            "INSERT INTO \"CreditTransaction\" (\"userId\", amount, type) VALUES ($1, -5, 'USAGE')",
            "UPDATE \"UserCreditBalance\" SET balance = balance - 5, \"updatedAt\" = now() \
             WHERE \"userId\" = $1",
        ],
    );
}

#[test]
fn the_buggy_writer_is_named_on_a_bigint_app() {
    three_writers(
        Shape::Serial,
        &SERIAL,
        &[
            "INSERT INTO credit_transaction (user_id, amount, type) VALUES ($1::text::bigint, -5, 'spend')",
            "UPDATE user_credit_balance SET balance = balance - 5 WHERE user_id = $1::text::bigint",
        ],
    );
}

#[test]
fn repairs_are_not_flagged_and_a_failing_trail_never_fails_the_app() {
    let (db, _) = TestDb::installed_incident(400, 40);
    let enabled = db.credits(&["audit", "enable", "--yes"]);
    assert_eq!(enabled.code, 0, "{enabled:?}");

    // Every repair, with the trail on: each moves balances, none is flagged.
    let user = db.planted("MISSING_TRANSACTION").user;
    for args in [
        &["fix-user", &user, "--yes"][..],
        &["bulk-fix", "--since", "365d", "--yes"],
        &[
            "retry-failed",
            "--since",
            "365d",
            "--include-pending",
            "--yes",
        ],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 0, "{run:?}");
    }
    let by_credits = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_ops.balance_audit a WHERE a.application_name = 'credits' \
             AND a.balance_delta <> 0",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0);
    assert!(
        by_credits > 0,
        "the repairs moved no balance: nothing tested"
    );
    let debug = db.credits(&["debug", "--all", "--output", "json"]);
    assert_eq!(flagged(&debug), Vec::new(), "{debug:?}");

    // The role that asked is recorded, as PostgREST sets it.
    let mut client = db.client();
    let user: String = client
        .query_one(
            "SELECT user_id::text FROM user_credit_balance ORDER BY 1 LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE service_role").unwrap();
    tx.execute(
        "UPDATE user_credit_balance SET balance = balance + 1 WHERE user_id::text = $1",
        &[&user],
    )
    .unwrap();
    tx.commit().unwrap();
    let debug = db.credits(&["debug", "--all", "--output", "json"]);
    let found = flagged(&debug);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.contains("role service_role"), "{found:?}");

    // The API roles can neither read the trail nor call its functions (the
    // seven trigger functions and the error keeper).
    for role in ["anon", "authenticated"] {
        let row = client
            .query_one(
                "SELECT has_table_privilege($1, 'credits_ops.balance_audit', 'SELECT') AS reads, \
                        count(*) AS functions, \
                        count(*) FILTER (WHERE has_function_privilege($1, p.oid, 'EXECUTE')) AS executable \
                 FROM pg_proc p \
                 WHERE p.pronamespace = 'credits_ops'::regnamespace AND p.proname LIKE 'balance\\_audit\\_%'",
                &[&role],
            )
            .unwrap();
        assert!(!row.get::<_, bool>("reads"), "{role} reads the trail");
        assert_eq!(row.get::<_, i64>("functions"), 8);
        assert_eq!(
            row.get::<_, i64>("executable"),
            0,
            "{role} runs a trail function"
        );
    }

    // A trail that cannot be written: the app's write still succeeds, and
    // the error is counted.
    client
        .batch_execute(
            "ALTER TABLE credits_ops.balance_audit ADD CONSTRAINT broken CHECK (false) NOT VALID",
        )
        .unwrap();
    let updated = client
        .execute(
            "UPDATE user_credit_balance SET balance = balance + 1 WHERE user_id::text = $1",
            &[&user],
        )
        .unwrap();
    assert_eq!(updated, 1);
    let status = db.credits(&["audit", "status", "--output", "json"]);
    let trail = &status.json()["trail"][0];
    assert_eq!(trail["trigger_errors"], 1, "{status:?}");
    assert!(
        trail["last_trigger_error"]
            .as_str()
            .unwrap()
            .starts_with("23514"),
        "{status:?}"
    );

    // Pruning: a dry run deletes nothing; then everything older than now goes.
    client
        .batch_execute("ALTER TABLE credits_ops.balance_audit DROP CONSTRAINT broken")
        .unwrap();
    let rows = || -> i64 {
        db.client()
            .query_one("SELECT count(*) FROM credits_ops.balance_audit", &[])
            .unwrap()
            .get(0)
    };
    let before = rows();
    let dry = db.credits(&[
        "audit",
        "prune",
        "--older-than",
        "0s",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert_eq!(dry.json()["would_delete"], before, "{dry:?}");
    assert_eq!(rows(), before);
    let pruned = db.credits(&[
        "audit",
        "prune",
        "--older-than",
        "0s",
        "--batch-size",
        "3",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(pruned.json()["deleted"], before, "{pruned:?}");
    assert_eq!(rows(), 0);
    let logged: i64 = client
        .query_one(
            "SELECT count(*) FROM credits_ops.repair_log WHERE action IN ('audit_enabled', 'audit_pruned')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(logged, 2);
}

#[test]
fn a_missing_trigger_shows_and_install_makes_the_trail_anew_for_a_changed_app() {
    let (db, _) = TestDb::installed_incident(200, 20);
    // Before: `credits status` lists V014 apart, with the command that applies it.
    let status = db.credits(&["status", "--output", "json"]);
    let v014 = status.json()["on_demand"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == 14)
        .cloned()
        .unwrap();
    assert_eq!(
        v014["state"], "not applied (run credits audit enable)",
        "{status:?}"
    );
    assert_eq!(db.credits(&["audit", "enable", "--yes"]).code, 0);
    let recording = || {
        let status = db.credits(&["audit", "status", "--output", "json"]);
        assert_eq!(status.code, 0, "{status:?}");
        status.json()["trail"][0]["recording"].clone()
    };
    assert_eq!(recording(), "on");
    db.client()
        .batch_execute("DROP TRIGGER credits_audit_ledger_insert ON credit_transaction")
        .unwrap();
    assert_eq!(recording(), "partly");

    // The app changed: install rebuilds the adapter, and the trail with it.
    db.client()
        .batch_execute("DROP TABLE stripe_webhook_event CASCADE")
        .unwrap();
    let install = db.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    assert!(
        install.stderr.contains("V014 balance_audit: made anew"),
        "{install:?}"
    );
    assert_eq!(recording(), "on");
}
