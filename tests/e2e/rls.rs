use serde_json::Value;

use crate::harness::{Run, TestDb};

fn check(db: &TestDb) -> Run {
    db.credits(&["rls-fix", "--check", "--output", "json"])
}

/// probe name -> (actual, verdict)
fn probe<'a>(run: &'a Value, section: &str, name: &str) -> (&'a str, &'a str) {
    let probe = run[section]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == name)
        .unwrap_or_else(|| panic!("no probe {name} in {section}: {run}"));
    (
        probe["actual"].as_str().unwrap(),
        probe["verdict"].as_str().unwrap(),
    )
}

fn lints(run: &Value) -> Vec<String> {
    run["lints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["lint"].as_str().unwrap(),
                l["object"].as_str().unwrap()
            )
        })
        .collect()
}

/// Policies and the ACLs of the credits tables and credits_ops functions:
/// what the fingerprint does not cover.
fn security_state(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT format('%s %s %s %s %s', tablename, policyname, cmd, roles, qual) FROM pg_policies WHERE schemaname = 'public' \
             UNION ALL SELECT format('%s %s %s', relname, relrowsecurity, relacl) FROM pg_class \
               WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' \
             UNION ALL SELECT format('%s %s', oid::regprocedure, proacl) FROM pg_proc \
               WHERE pronamespace = 'credits_ops'::regnamespace ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Runs `sql` as `role` with the JWT claims of `user` in a transaction that
/// is rolled back; the error's SQLSTATE, or the rows affected.
fn as_role(db: &TestDb, role: &str, user: Option<&str>, sql: &str) -> Result<u64, String> {
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    tx.execute("SELECT set_config('role', $1, true)", &[&role])
        .unwrap();
    if let Some(user) = user {
        let claims = format!(r#"{{"sub": "{user}", "role": "{role}"}}"#);
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )
        .unwrap();
    }
    let result = tx
        .execute(sql, &[])
        .map_err(|e| e.code().map(|c| c.code().to_string()).unwrap_or_default());
    tx.rollback().unwrap();
    result
}

fn count_as(db: &TestDb, role: &str, user: Option<&str>, sql: &str) -> i64 {
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    tx.execute("SELECT set_config('role', $1, true)", &[&role])
        .unwrap();
    if let Some(user) = user {
        let claims = format!(r#"{{"sub": "{user}", "role": "{role}"}}"#);
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )
        .unwrap();
    }
    let count = tx.query_one(sql, &[]).unwrap().get(0);
    tx.rollback().unwrap();
    count
}

#[test]
fn check_shows_the_holes_of_supabase_defaults_and_changes_nothing() {
    let db = TestDb::installed_incident(300, 30).0;
    let before = db.fingerprint();
    let run = check(&db);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    assert_eq!(
        probe(&json, "probes", "user_inserts_credit_transaction"),
        ("allowed", "FAIL")
    );
    assert_eq!(
        probe(&json, "probes", "user_reads_other_users_rows"),
        ("allowed", "FAIL")
    );
    assert_eq!(
        probe(&json, "probes", "user_updates_balance"),
        ("allowed", "FAIL")
    );
    assert_eq!(
        probe(&json, "probes", "anon_reads_inactive_packages"),
        ("allowed", "FAIL")
    );
    assert_eq!(
        probe(&json, "probes", "webhook_apply_recharge"),
        ("allowed", "ok")
    );
    assert_eq!(
        probe(&json, "probes", "user_executes_credits_ops"),
        ("denied", "ok")
    );
    assert!(
        lints(&json).contains(&"rls_disabled_in_public public.credit_transaction".to_string()),
        "{json}"
    );
    assert_eq!(db.fingerprint(), before, "--check writes nothing");
}

#[test]
fn check_and_fix_a_using_true_policy() {
    let db = TestDb::installed_incident(300, 30).0;
    db.client()
        .batch_execute(
            "ALTER TABLE credit_transaction ENABLE ROW LEVEL SECURITY;
             CREATE POLICY \"allow all\" ON credit_transaction FOR ALL TO authenticated USING (true) WITH CHECK (true);",
        )
        .unwrap();
    let run = check(&db);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    assert_eq!(
        probe(&json, "probes", "user_inserts_credit_transaction"),
        ("allowed", "FAIL")
    );
    assert!(
        lints(&json).contains(
            &"rls_policy_always_true public.credit_transaction policy allow all".to_string()
        ),
        "{json}"
    );

    let fix = db.credits(&["rls-fix", "--yes", "--output", "json"]);
    assert_eq!(fix.code, 0, "{fix:?}");
    assert!(
        fix.stderr
            .contains("drop policy allow all on public.credit_transaction"),
        "{fix:?}"
    );
    let dropped = fix.json()["dropped_policies"].clone();
    assert_eq!(dropped.as_array().unwrap().len(), 1, "{dropped}");
    assert_eq!(dropped[0]["policy"], "allow all");
    let after = check(&db);
    assert_eq!(after.code, 0, "{after:?}");
    let user = first_user(&db);
    assert_eq!(
        as_role(
            &db,
            "authenticated",
            Some(&user),
            &format!(
                "INSERT INTO credit_transaction (user_id, amount, type) VALUES ('{user}', 1000, 'adjustment')"
            )
        ),
        Err("42501".to_string())
    );

    // The hole put back after the fix: the check sees it, and rls-fix
    // re-applies V010 (its history row stays the first one) and audits it.
    db.client()
        .batch_execute(
            "GRANT INSERT ON credit_transaction TO authenticated;
             CREATE POLICY \"allow all\" ON credit_transaction FOR ALL TO authenticated USING (true) WITH CHECK (true);",
        )
        .unwrap();
    assert_eq!(check(&db).code, 1);
    let again = db.credits(&["rls-fix", "--yes", "--output", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("re-apply V010"), "{again:?}");
    assert_eq!(again.json()["dropped_policies"][0]["policy"], "allow all");
    assert_eq!(check(&db).code, 0);
    let (history, audited): (i64, i64) = {
        let row = db
            .client()
            .query_one(
                "SELECT (SELECT count(*) FROM credits_ops.schema_history WHERE version = 10), \
                        (SELECT count(*) FROM credits_ops.repair_log WHERE action = 'rls_fix')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((history, audited), (1, 2));
}

fn first_user(db: &TestDb) -> String {
    db.client()
        .query_one(
            "SELECT b.user_id::text FROM user_credit_balance b JOIN credit_recharge r USING (user_id) ORDER BY 1 LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn rls_fix_closes_the_ledger_and_keeps_the_webhook_crediting() {
    let db = TestDb::installed_incident(300, 30).0;
    let status = db.credits(&["status", "--output", "json"]);
    assert_eq!(
        status.json()["on_demand"][0]["state"],
        "not applied (run credits rls-fix)",
        "{status:?}"
    );
    assert_eq!(status.json()["pending"], 0, "{status:?}");

    // --dry-run: the plan, probes before and after, nothing written.
    let fingerprint = db.fingerprint();
    let security = security_state(&db);
    let dry = db.credits(&["rls-fix", "--dry-run", "--output", "json"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    let json = dry.json();
    assert_eq!(json["changed"], false);
    assert_eq!(
        probe(&json, "probes_before", "user_inserts_credit_transaction"),
        ("allowed", "FAIL")
    );
    assert_eq!(
        probe(&json, "probes_after", "user_inserts_credit_transaction"),
        ("denied", "ok")
    );
    assert_eq!(json["probes_failed"], 0, "{dry:?}");
    assert_eq!(db.fingerprint(), fingerprint, "--dry-run writes nothing");
    assert_eq!(
        security_state(&db),
        security,
        "--dry-run changes no policy or grant"
    );

    // No terminal, no --yes: refused, nothing written.
    let refused = db.credits(&["rls-fix"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert_eq!(security_state(&db), security);

    let fix = db.credits(&[
        "rls-fix",
        "--yes",
        "--reason",
        "INC-7",
        "--operator",
        "oncall",
        "--output",
        "json",
    ]);
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(fix.json()["changed"], true);
    let after = fix.json()["probes_after"].clone();
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["verdict"] != "FAIL"),
        "{after}"
    );
    let check = check(&db);
    assert_eq!(check.code, 0, "{check:?}");

    // Independently, as the API roles.
    let user_id = first_user(&db);
    let user = Some(user_id.as_str());
    assert_eq!(
        as_role(
            &db,
            "authenticated",
            user,
            &format!(
                "INSERT INTO credit_transaction (user_id, amount, type) VALUES ('{}', 1000, 'adjustment')",
                user_id
            )
        ),
        Err("42501".to_string()),
        "a signed-in user cannot mint credits"
    );
    assert!(
        matches!(
            as_role(
                &db,
                "authenticated",
                user,
                "UPDATE user_credit_balance SET balance = balance + 1000"
            ),
            Ok(0) | Err(_)
        ),
        "a signed-in user cannot raise a balance"
    );
    assert_eq!(
        count_as(
            &db,
            "authenticated",
            user,
            &format!(
                "SELECT (SELECT count(*) FROM credit_recharge WHERE user_id <> '{0}') \
                      + (SELECT count(*) FROM credit_transaction WHERE user_id <> '{0}') \
                      + (SELECT count(*) FROM user_credit_balance WHERE user_id <> '{0}')",
                user_id
            )
        ),
        0,
        "a signed-in user reads no other user's rows"
    );
    assert!(
        count_as(
            &db,
            "authenticated",
            user,
            "SELECT count(*) FROM credit_recharge"
        ) > 0,
        "a signed-in user reads its own recharges"
    );
    assert_eq!(
        count_as(
            &db,
            "anon",
            None,
            "SELECT count(*) FROM credit_package WHERE NOT is_active"
        ),
        0
    );
    assert_eq!(
        count_as(
            &db,
            "anon",
            None,
            "SELECT count(*) FROM credit_package WHERE is_active"
        ),
        3
    );
    assert_eq!(
        as_role(&db, "anon", None, "SELECT count(*) FROM credit_transaction"),
        Err("42501".to_string())
    );

    // The webhook role still credits through apply_recharge.
    let mut client = db.client();
    let recharge: String = client
        .query_one(
            "SELECT r.id::text FROM credit_recharge r WHERE r.status = 'completed' AND NOT EXISTS \
             (SELECT FROM credit_transaction t WHERE t.related_recharge_id = r.id AND t.type = 'recharge') LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let mut tx = client.transaction().unwrap();
    tx.execute("SET LOCAL ROLE service_role", &[]).unwrap();
    let action: String = tx
        .query_one(
            "SELECT action FROM credits_ops.apply_recharge($1::text)",
            &[&recharge],
        )
        .unwrap()
        .get(0);
    assert_eq!(action, "credited");
    tx.rollback().unwrap();

    // Recorded: status, audit log; the debug check is gone.
    let status = db.credits(&["status", "--output", "json"]);
    assert_eq!(
        status.json()["on_demand"][0]["state"],
        "applied",
        "{status:?}"
    );
    let audited: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credits_ops.repair_log WHERE action = 'rls_fix' AND operator = 'oncall' AND reason = 'INC-7'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
    let debug = db.credits(&["debug", "--since", "30d", "--output", "json"]);
    assert!(
        !debug.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "RLS_DISABLED"),
        "{debug:?}"
    );

    // Twice: nothing changes.
    let fingerprint = db.fingerprint();
    let security = security_state(&db);
    let again = db.credits(&["rls-fix", "--yes", "--output", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["changed"], false);
    assert_eq!(db.fingerprint(), fingerprint);
    assert_eq!(security_state(&db), security);
}

#[test]
fn a_database_without_supabase_roles_is_told_plainly() {
    let db = TestDb::installed_incident(300, 30).0;
    let run = db.credits(&[
        "rls-fix",
        "--check",
        "--user-role",
        "app_user",
        "--output",
        "json",
    ]);
    assert!(run.stderr.contains("not Supabase-shaped"), "{run:?}");
    assert!(run.stderr.contains("no role \"app_user\""), "{run:?}");
    assert_eq!(
        probe(&run.json(), "probes", "user_inserts_credit_transaction"),
        ("untested", "untested")
    );
    let before = db.fingerprint();
    let fix = db.credits(&["rls-fix", "--yes", "--user-role", "app_user"]);
    assert_eq!(fix.code, 4, "{fix:?}");
    assert!(fix.stderr.contains("--user-role"), "{fix:?}");
    assert_eq!(db.fingerprint(), before);
}
