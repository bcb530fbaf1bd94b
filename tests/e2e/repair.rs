use serde_json::Value;

use crate::harness::TestDb;

/// A user the incident broke with `kind` (and, for per-recharge kinds, the recharge).
fn broken(db: &TestDb, kind: &str) -> (String, Option<String>) {
    let row = db
        .client()
        .query_one(
            "SELECT coalesce(f.user_id, r.user_id)::text, f.recharge_id::text FROM credits_demo.expected_finding f \
             LEFT JOIN credit_recharge r ON r.id = f.recharge_id WHERE f.kind = $1 ORDER BY 1 LIMIT 1",
            &[&kind],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn user_checks(db: &TestDb, user: &str) -> Vec<String> {
    let run = db.credits(&[
        "debug", "--since", "30d", "--user", user, "--output", "json",
    ]);
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["user_id"] == user)
        .map(|f| f["check"].as_str().unwrap().to_string())
        .collect()
}

fn balance_and_ledger(db: &TestDb, user: &str) -> (Option<i64>, i64) {
    let row = db
        .client()
        .query_one(
            "SELECT (SELECT balance FROM user_credit_balance WHERE user_id = $1::text::uuid), \
                    (SELECT coalesce(sum(amount), 0)::bigint FROM credit_transaction WHERE user_id = $1::text::uuid)",
            &[&user],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn fix(db: &TestDb, user: &str, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec![
        "fix-user",
        user,
        "--yes",
        "--reason",
        "INC-1",
        "--operator",
        "oncall",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    db.credits(&args)
}

#[test]
fn fix_user_repairs_what_it_may_and_a_second_run_changes_nothing() {
    let db = TestDb::installed_incident(2000, 200).0;
    for (kind, extra) in [
        ("MISSING_TRANSACTION", &[][..]),
        ("CREDITED_NOT_COMPLETED", &[]),
        ("BALANCE_DRIFT", &[]),
        ("MISSING_BALANCE_ROW", &[]),
        ("DUPLICATE_CREDIT", &["--reverse-duplicates"]),
    ] {
        let (user, _) = broken(&db, kind);
        assert!(
            user_checks(&db, &user).contains(&kind.to_string()),
            "{kind} planted for {user}"
        );
        let run = fix(&db, &user, extra);
        assert_eq!(run.code, 0, "{kind}: {run:?}");
        assert!(
            run.json()["changes"].as_u64().unwrap() > 0,
            "{kind}: {run:?}"
        );
        let left = user_checks(&db, &user);
        for fixed in [
            "MISSING_TRANSACTION",
            "CREDITED_NOT_COMPLETED",
            "BALANCE_DRIFT",
            "MISSING_BALANCE_ROW",
            "DUPLICATE_CREDIT",
        ] {
            assert!(
                !left.contains(&fixed.to_string()),
                "{kind}: {fixed} left for {user}: {left:?}"
            );
        }
        let (balance, ledger) = balance_and_ledger(&db, &user);
        assert_eq!(balance, Some(ledger), "{kind}: I3 holds for {user}");
        let audited: i64 = db
            .client()
            .query_one(
                "SELECT count(*) FROM credits_ops.repair_log WHERE user_id = $1::text AND operator = 'oncall' AND reason = 'INC-1'",
                &[&user],
            )
            .unwrap()
            .get(0);
        assert!(audited > 0, "{kind}: audited");

        let before = db.fingerprint();
        let again = fix(&db, &user, extra);
        assert_eq!(again.code, 0, "{again:?}");
        assert_eq!(again.json()["changes"], 0, "{kind}: {again:?}");
        assert_eq!(
            db.fingerprint(),
            before,
            "{kind}: a second run changes nothing"
        );
    }
}

#[test]
fn a_missing_transaction_is_credited_exactly_once_and_audited() {
    let db = TestDb::installed_incident(2000, 200).0;
    let (user, recharge) = broken(&db, "MISSING_TRANSACTION");
    let recharge = recharge.unwrap();
    let run = fix(&db, &user, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let actions = run.json()["actions"].as_array().unwrap().clone();
    assert!(
        actions
            .iter()
            .any(|a| a["recharge_id"] == recharge.as_str() && a["action"] == "credited"),
        "{actions:?}"
    );
    let row = db
        .client()
        .query_one(
            "SELECT count(*), min(t.amount) = min(r.amount), min(t.user_id::text) FROM credit_transaction t \
             JOIN credit_recharge r ON r.id = t.related_recharge_id WHERE r.id = $1::text::uuid AND t.type = 'recharge'",
            &[&recharge],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        1,
        "I1: exactly one recharge transaction"
    );
    assert!(row.get::<_, bool>(1), "I1: of the recharge's amount");
    assert_eq!(row.get::<_, String>(2), user, "I1: for the recharge's user");
    let audit = db
        .client()
        .query_one(
            "SELECT action, credits_delta, balance_after - balance_before, command FROM credits_ops.repair_log \
             WHERE recharge_id = $1::text",
            &[&recharge],
        )
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "credited");
    assert_eq!(
        audit.get::<_, Option<i64>>(1),
        audit.get::<_, Option<i64>>(2),
        "I5: before and after agree with the delta"
    );
    assert_eq!(audit.get::<_, String>(3), "fix-user");
}

#[test]
fn fix_user_dry_run_and_refusal_write_nothing() {
    let db = TestDb::installed_incident(2000, 200).0;
    let (user, _) = broken(&db, "MISSING_TRANSACTION");
    let before = db.fingerprint();
    let dry = db.credits(&["fix-user", &user, "--dry-run", "--output", "json"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    let actions = dry.json()["actions"].as_array().unwrap().clone();
    assert!(
        actions.iter().any(|a| a["action"] == "would be credited"),
        "{dry:?}"
    );
    assert_eq!(db.fingerprint(), before, "--dry-run wrote something");
    let refused = db.credits(&["fix-user", &user]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert_eq!(db.fingerprint(), before);
}

#[test]
fn unverified_and_unpaid_payments_are_never_credited() {
    let db = TestDb::installed_incident(2000, 200).0;
    for kind in [
        "FAILED_UNVERIFIED",
        "STUCK_PENDING",
        "UNKNOWN_STATUS",
        "REFUNDED_NOT_DEBITED",
    ] {
        let (user, recharge) = broken(&db, kind);
        let recharge = recharge.unwrap();
        let status_before: String = db
            .client()
            .query_one(
                "SELECT status FROM credit_recharge WHERE id = $1::text::uuid",
                &[&recharge],
            )
            .unwrap()
            .get(0);
        let run = fix(&db, &user, &[]);
        assert_eq!(run.code, 0, "{run:?}");
        let row = db
            .client()
            .query_one(
                "SELECT status, (SELECT count(*) FROM credit_transaction WHERE related_recharge_id = $1::text::uuid AND type = 'recharge') \
                 FROM credit_recharge WHERE id = $1::text::uuid",
                &[&recharge],
            )
            .unwrap();
        assert_eq!(
            row.get::<_, String>(0),
            status_before,
            "{kind}: status untouched"
        );
        let expected_credits = if kind == "REFUNDED_NOT_DEBITED" { 1 } else { 0 };
        assert_eq!(
            row.get::<_, i64>(1),
            expected_credits,
            "{kind}: no credit granted"
        );
    }
}

#[test]
fn a_locked_balance_makes_fix_user_give_up_without_changing_anything() {
    let db = TestDb::installed_incident(2000, 200).0;
    let (user, _) = broken(&db, "MISSING_TRANSACTION");
    let mut holder = db.client();
    let mut lock = holder.transaction().unwrap();
    lock.execute(
        "SELECT 1 FROM user_credit_balance WHERE user_id = $1::text::uuid FOR UPDATE",
        &[&user],
    )
    .unwrap();
    let before = db.fingerprint();
    let run = db.credits(&["fix-user", &user, "--yes", "--lock-timeout", "1s"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("lock") && run.stderr.contains("nothing was changed"),
        "{run:?}"
    );
    lock.rollback().unwrap();
    assert_eq!(db.fingerprint(), before);
}

#[test]
fn a_balance_kept_by_a_trigger_is_not_credited_twice() {
    let db = TestDb::installed_incident(2000, 200).0;
    db.client()
        .batch_execute(
            "CREATE FUNCTION public.keep_balance() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               INSERT INTO user_credit_balance (user_id, balance) VALUES (NEW.user_id, NEW.amount) \
               ON CONFLICT (user_id) DO UPDATE SET balance = user_credit_balance.balance + NEW.amount; RETURN NEW; END $$; \
             CREATE TRIGGER keep_balance AFTER INSERT ON credit_transaction FOR EACH ROW EXECUTE FUNCTION public.keep_balance();",
        )
        .unwrap();
    let (user, _) = broken(&db, "MISSING_TRANSACTION");
    let run = fix(&db, &user, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let (balance, ledger) = balance_and_ledger(&db, &user);
    assert_eq!(balance, Some(ledger));
    let audit: Vec<(String, Option<i64>)> = db
        .client()
        .query("SELECT action, credits_delta FROM credits_ops.repair_log WHERE user_id = $1::text ORDER BY id", &[&user])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(
        !audit
            .iter()
            .any(|(action, _)| action == "balance_corrected"),
        "the trigger's balance was right: {audit:?}"
    );
}

#[test]
fn the_webhook_role_credits_through_apply_recharge_and_others_cannot() {
    let db = TestDb::installed_incident(2000, 200).0;
    let (_, recharge) = broken(&db, "FAILED_PAID");
    let recharge = recharge.unwrap();
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE service_role").unwrap();
    let call =
        "SELECT action FROM credits_ops.apply_recharge($1::text, 'webhook', NULL, 'webhook')";
    let first: String = tx.query_one(call, &[&recharge]).unwrap().get(0);
    let second: String = tx.query_one(call, &[&recharge]).unwrap().get(0);
    tx.commit().unwrap();
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("credited", "already_credited")
    );

    for role in ["anon", "authenticated"] {
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(&format!("SET LOCAL ROLE {role}")).unwrap();
        let denied = tx.query_one(call, &[&recharge]).unwrap_err();
        assert_eq!(
            denied.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{role}"
        );
    }
    let status: Value = db
        .client()
        .query_one(
            "SELECT to_jsonb(status) FROM credit_recharge WHERE id = $1::text::uuid",
            &[&recharge],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "completed");
}

#[test]
fn the_runbook_entry_point_shares_the_repair() {
    let db = TestDb::installed_incident(2000, 200).0;
    let (user, recharge) = broken(&db, "MISSING_TRANSACTION");
    let actions: Vec<(Option<String>, String)> = db
        .client()
        .query(
            "SELECT recharge_id::text, action FROM credits_ops.manual_fix_user_credits($1::text)",
            &[&user],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(
        actions.contains(&(recharge, "credited".to_string())),
        "{actions:?}"
    );
    let again = db.credits(&["fix-user", &user, "--yes", "--output", "json"]);
    assert_eq!(again.json()["changes"], 0, "{again:?}");
    let command: String = db
        .client()
        .query_one(
            "SELECT min(command) FROM credits_ops.repair_log WHERE user_id = $1::text",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(command, "manual_fix_user_credits");
}
