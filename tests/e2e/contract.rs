use crate::harness::TestDb;

#[test]
fn a_missing_column_is_named_with_exit_4_and_nothing_written() {
    let db = TestDb::new();
    db.client()
        .batch_execute("ALTER TABLE credit_transaction DROP COLUMN related_recharge_id")
        .unwrap();
    let before = db.fingerprint();
    for args in [&["install", "--yes"][..], &["install", "--dry-run"]] {
        let run = db.credits(args);
        assert_eq!(run.code, 4, "{run:?}");
        assert!(
            run.stderr
                .contains("credit_transaction.related_recharge_id"),
            "{run:?}"
        );
        assert!(
            !run.stderr.contains("user_credit_balance"),
            "only what is missing is named: {run:?}"
        );
    }
    assert_eq!(db.fingerprint(), before);
}

#[test]
fn everything_missing_is_reported_in_one_message() {
    let db = TestDb::new();
    db.client()
        .batch_execute(
            "DROP TABLE user_credit_balance; ALTER TABLE credit_recharge DROP COLUMN payment_intent_id; \
             ALTER TABLE stripe_webhook_event DROP COLUMN payload",
        )
        .unwrap();
    let run = db.credits(&["install", "--yes"]);
    assert_eq!(run.code, 4, "{run:?}");
    for missing in [
        "user_credit_balance.user_id",
        "user_credit_balance.balance",
        "credit_recharge.payment_intent_id",
        "stripe_webhook_event.payload",
    ] {
        assert!(run.stderr.contains(missing), "{missing} not named: {run:?}");
    }
    assert!(
        run.stderr
            .contains("tables missing entirely: user_credit_balance"),
        "{run:?}"
    );
}

#[test]
fn the_optional_webhook_table_may_be_absent() {
    let db = TestDb::new();
    db.client()
        .batch_execute("DROP TABLE stripe_webhook_event")
        .unwrap();
    let run = db.credits(&["install", "--yes"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("stripe_webhook_event does not exist: nothing to index"),
        "the event index is skipped, and said so: {run:?}"
    );
    let other = TestDb::new();
    assert_eq!(other.credits(&["install", "--yes"]).code, 0);
    let indexed: bool = other
        .client()
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.credits_webhook_event_payment_intent_idx'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(indexed, "with the table, evidence lookups are indexed");
}
