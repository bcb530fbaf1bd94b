use crate::harness::TestDb;

#[test]
fn support_by_email_user_id_and_payment_intent_gives_the_same_page() {
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let planted = db.planted("MISSING_TRANSACTION");
    let (user, email) = (planted.user, planted.email);
    let pi = planted
        .payment_intent
        .expect("a planted missing transaction has a payment intent");

    db.client()
        .execute(
            "INSERT INTO credits_ops.repair_log (operator, reason, command, user_id, action, credits_delta, balance_before, balance_after) \
             VALUES ('oncall', 'INC-7', 'fix-user', $1::text, 'balance_corrected', 5, 10, 15)",
            &[&user],
        )
        .unwrap();
    let pages: Vec<String> = [&user, &email, &pi]
        .iter()
        .map(|subject| {
            let run = db.credits(&["support", subject, "--output", "json"]);
            assert_eq!(run.code, 0, "{run:?}");
            run.stdout
        })
        .collect();
    assert_eq!(pages[0], pages[1], "by user id and by email");
    assert_eq!(pages[0], pages[2], "by user id and by payment intent");

    let page: serde_json::Value = serde_json::from_str(&pages[0]).unwrap();
    assert_eq!(page["user_id"], user.as_str());
    assert_eq!(page["email"], email.as_str());
    let recharges = page["recharges"].as_array().unwrap();
    let expected: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM credit_recharge WHERE user_id = $1::text::uuid",
            &[&user],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        recharges.len() as i64,
        expected,
        "every recharge, at any age"
    );
    let broken = recharges
        .iter()
        .find(|r| r["payment_intent_id"] == pi.as_str())
        .unwrap();
    assert_eq!(broken["credited"], "no");
    assert_eq!(
        broken["dashboard_url"],
        format!("https://dashboard.stripe.com/payments/{pi}")
    );
    let findings = page["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["check"] == "MISSING_TRANSACTION"),
        "{findings:?}"
    );
    assert!(
        findings.iter().all(|f| f["check"] != "RLS_DISABLED"),
        "only this user's findings"
    );
    let audit = page["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["reason"], "INC-7");
    assert_eq!(audit[0]["balance_after"], 15);
    let ledger: i64 = db
        .client()
        .query_one("SELECT coalesce(sum(amount), 0)::bigint FROM credit_transaction WHERE user_id = $1::text::uuid", &[&user])
        .unwrap()
        .get(0);
    assert_eq!(page["user"][0]["ledger_sum"], ledger);

    let markdown = db.credits(&["support", &email, "--markdown"]);
    assert_eq!(markdown.code, 0, "{markdown:?}");
    assert!(
        markdown
            .stdout
            .starts_with(&format!("# Credits support: user {user}")),
        "{markdown:?}"
    );
    assert!(
        markdown.stdout.contains("## Recharges") && markdown.stdout.contains("| recharge_id"),
        "{markdown:?}"
    );
}

#[test]
fn support_for_someone_unknown_is_a_usage_error() {
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    for subject in [
        "nobody@example.com",
        "pi_does_not_exist",
        "00000000-0000-4000-8000-000000000000",
        "not an id",
    ] {
        let run = db.credits(&["support", subject]);
        assert_eq!(run.code, 2, "{subject}: {run:?}");
        assert!(run.stdout.is_empty());
    }
}
