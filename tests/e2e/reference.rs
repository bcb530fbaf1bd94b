use crate::harness::TestDb;

/// The recharge and user ids the generator says are findings, per kind.
fn truth(db: &TestDb) -> Vec<(String, i64, String)> {
    db.client()
        .query(
            "SELECT kind, count(*), md5(string_agg(coalesce(recharge_id::text, user_id::text), ',' ORDER BY recharge_id, user_id)) \
             FROM credits_demo.expected_finding GROUP BY kind ORDER BY kind",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

#[test]
fn the_incident_is_deterministic_and_plants_every_failure_mode() {
    let (first, planted) = TestDb::with_incident(2000, 200);
    let (second, planted_again) = TestDb::with_incident(2000, 200);
    assert_eq!(planted, planted_again);
    assert_eq!(
        truth(&first),
        truth(&second),
        "same seed, same findings, same ids"
    );

    let kinds: Vec<&str> = planted.iter().map(|(kind, _)| kind.as_str()).collect();
    for kind in [
        "MISSING_TRANSACTION",
        "FAILED_PAID",
        "FAILED_UNVERIFIED",
        "STUCK_PENDING_PAID",
        "STUCK_PENDING",
        "CREDITED_NOT_COMPLETED",
        "DUPLICATE_CREDIT",
        "AMOUNT_MISMATCH",
        "REFUNDED_NOT_DEBITED",
        "UNKNOWN_STATUS",
        "BALANCE_DRIFT",
        "MISSING_BALANCE_ROW",
    ] {
        let count = planted.iter().find(|(k, _)| k == kind).map(|(_, n)| *n);
        assert!(count.is_some_and(|n| n > 0), "{kind} planted: {kinds:?}");
    }
    let recharges: i64 = first
        .client()
        .query_one("SELECT count(*) FROM credit_recharge", &[])
        .unwrap()
        .get(0);
    assert_eq!(recharges, 2000);
}
