//! The whole incident flow on real apps' layouts (`sql/reference/shapes/`):
//! the runbook's own app (text ids, enums lacking statuses, its own users
//! table, extra NOT NULL columns, forgeable evidence, its own crediting
//! function), a Prisma app through its mapping file, and a bigint-id app
//! whose text status says 'paid'. Each ends with the ledger invariants
//! checked in the app's own tables and names, not through the tool's views.

use std::collections::BTreeSet;
use std::path::PathBuf;

use credits::reference::Shape;

use crate::harness::{Run, TestDb};

/// How one shape names what the invariants are checked on.
pub(crate) struct Names {
    pub(crate) recharge: &'static str,
    pub(crate) ledger: &'static str,
    pub(crate) balance: &'static str,
    pub(crate) user_id: &'static str,
    pub(crate) recharge_id: &'static str,
    pub(crate) completed: &'static str,
    pub(crate) recharge_type: &'static str,
}

pub(crate) const RUNBOOK: Names = Names {
    recharge: "credit_recharge",
    ledger: "credit_transaction",
    balance: "user_credit_balance",
    user_id: "user_id",
    recharge_id: "related_recharge_id",
    completed: "completed",
    recharge_type: "recharge",
};

pub(crate) const PRISMA: Names = Names {
    recharge: "\"CreditRecharge\"",
    ledger: "\"CreditTransaction\"",
    balance: "\"UserCreditBalance\"",
    user_id: "\"userId\"",
    recharge_id: "\"relatedRechargeId\"",
    completed: "COMPLETED",
    recharge_type: "RECHARGE",
};

pub(crate) const SERIAL: Names = Names {
    recharge: "credit_recharge",
    ledger: "credit_transaction",
    balance: "user_credit_balance",
    user_id: "user_id",
    recharge_id: "related_recharge_id",
    completed: "paid",
    recharge_type: "recharge",
};

pub(crate) struct Shaped {
    pub(crate) db: TestDb,
    config: Option<PathBuf>,
    pub(crate) names: &'static Names,
    _dir: Option<TempDir>,
}

/// A directory removed when dropped, for the mapping file.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Shaped {
    pub(crate) fn new(shape: Shape, names: &'static Names) -> Shaped {
        let db = TestDb::shape(shape);
        let (config, dir) = match shape.mapping() {
            Some(text) => {
                let dir = std::env::temp_dir().join(format!("credits-shape-{}", db.name));
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join("credits.toml");
                std::fs::write(&path, text).unwrap();
                (Some(path), Some(TempDir(dir)))
            }
            None => (None, None),
        };
        Shaped {
            db,
            config,
            names,
            _dir: dir,
        }
    }

    pub(crate) fn credits(&self, args: &[&str]) -> Run {
        self.db.credits_mapped(args, self.config.as_deref())
    }

    pub(crate) fn count(&self, sql: &str) -> i64 {
        self.db.client().query_one(sql, &[]).unwrap().get(0)
    }

    /// (kind, recharge id or user id) of every planted finding.
    fn expected(&self) -> BTreeSet<(String, String)> {
        self.db
            .client()
            .query(
                "SELECT kind, coalesce(recharge_id, user_id) FROM credits_fixture.expected_finding",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// Every ledger row as text: the ledger is append-only, so these must
    /// survive every repair unchanged.
    fn ledger_rows(&self) -> BTreeSet<String> {
        self.db
            .client()
            .query(&format!("SELECT t::text FROM {} t", self.names.ledger), &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// I1 (a completed recharge has exactly one recharge transaction of its
    /// amount), I3 (balance = ledger sum; a user with transactions has a
    /// balance row) and I4 net of reversals, in the app's own tables.
    pub(crate) fn violations(&self) -> Vec<String> {
        let n = self.names;
        let queries = [
            (
                "I1",
                format!(
                    "SELECT count(*) FROM {r} r WHERE r.status::text = '{c}' AND \
                     (SELECT count(*) FROM {l} t WHERE t.{rid} = r.id AND t.type::text = '{rt}' \
                      AND t.amount = r.amount) < 1",
                    r = n.recharge,
                    l = n.ledger,
                    rid = n.recharge_id,
                    c = n.completed,
                    rt = n.recharge_type
                ),
            ),
            (
                "I3 balance",
                format!(
                    "SELECT count(*) FROM {b} b WHERE b.balance <> \
                     (SELECT coalesce(sum(t.amount), 0) FROM {l} t WHERE t.{u} = b.{u})",
                    b = n.balance,
                    l = n.ledger,
                    u = n.user_id
                ),
            ),
            (
                "I3 row",
                format!(
                    "SELECT count(DISTINCT t.{u}) FROM {l} t \
                     WHERE NOT EXISTS (SELECT FROM {b} b WHERE b.{u} = t.{u})",
                    b = n.balance,
                    l = n.ledger,
                    u = n.user_id
                ),
            ),
        ];
        queries
            .iter()
            .filter_map(|(name, sql)| {
                let bad = self.count(sql);
                (bad > 0).then(|| format!("{name}: {bad}"))
            })
            .collect()
    }

    /// The recharges planted without evidence have still no recharge
    /// transaction: nothing was credited without evidence.
    fn unverified_still_uncredited(&self) {
        let n = self.names;
        let credited = self.count(&format!(
            "SELECT count(*) FROM credits_fixture.expected_finding f JOIN {l} t ON t.{rid}::text = f.recharge_id \
             WHERE f.kind IN ('FAILED_UNVERIFIED', 'STUCK_PENDING') AND t.type::text = '{rt}'",
            l = n.ledger,
            rid = n.recharge_id,
            rt = n.recharge_type
        ));
        assert_eq!(credited, 0, "a recharge without evidence was credited");
    }
}

fn findings(run: &Run) -> BTreeSet<(String, String)> {
    let database_wide = [
        "RLS_DISABLED",
        "RLS_NO_POLICY",
        "WEBHOOK_SILENT",
        "WEBHOOK_EVENT_FAILED",
    ];
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !database_wide.contains(&f["check"].as_str().unwrap()))
        .map(|f| {
            let id = f["recharge_id"].as_str().or(f["user_id"].as_str()).unwrap();
            (f["check"].as_str().unwrap().to_string(), id.to_string())
        })
        .collect()
}

/// install, debug, every repair twice, pause and resume, support, log and
/// health; returns the app after the repairs, for shape-specific checks.
fn incident_flow(shape: Shape, names: &'static Names) -> Shaped {
    let app = Shaped::new(shape, names);
    let profile = app.credits(&["profile", "--output", "json"]);
    assert_eq!(profile.code, 0, "{profile:?}");

    let before = app.db.fingerprint();
    let dry = app.credits(&["install", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(
        app.db.fingerprint(),
        before,
        "install --dry-run wrote something"
    );
    let install = app.credits(&["install", "--yes"]);
    assert_eq!(install.code, 0, "{install:?}");
    let installed = app.db.fingerprint();
    let again = app.credits(&["install", "--yes"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        app.db.fingerprint(),
        installed,
        "a second install changed something"
    );

    let debug = app.credits(&["debug", "--output", "json", "--all"]);
    assert_eq!(debug.code, 1, "{debug:?}");
    assert_eq!(
        findings(&debug),
        app.expected(),
        "{shape:?}: debug finds exactly what was planted"
    );

    let ledger_before = app.ledger_rows();
    let dry_fix = app.credits(&["bulk-fix", "--dry-run"]);
    assert_eq!(dry_fix.code, 0, "{dry_fix:?}");
    assert_eq!(
        app.db.fingerprint(),
        installed,
        "bulk-fix --dry-run wrote something"
    );

    let fixed = app.credits(&["bulk-fix", "--yes", "--reason", "INC-9", "--output", "json"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert_eq!(
        fixed.json()["summary"][0]["recharges_credited"],
        1,
        "{fixed:?}"
    );
    let refixed = app.credits(&["bulk-fix", "--yes", "--reason", "INC-9", "--output", "json"]);
    assert_eq!(refixed.code, 0, "{refixed:?}");
    let summary = &refixed.json()["summary"][0];
    for key in [
        "recharges_credited",
        "balances_corrected",
        "recharges_completed",
    ] {
        assert_eq!(
            summary[key], 0,
            "{shape:?}: a second bulk-fix changed {key}: {refixed:?}"
        );
    }

    let retried = app.credits(&[
        "retry-failed",
        "--include-pending",
        "--yes",
        "--reason",
        "INC-9",
    ]);
    assert_eq!(retried.code, 0, "{retried:?}");
    let retried_again = app.credits(&[
        "retry-failed",
        "--include-pending",
        "--yes",
        "--reason",
        "INC-9",
        "--output",
        "json",
    ]);
    assert_eq!(retried_again.code, 0, "{retried_again:?}");
    assert_eq!(retried_again.json()["credited"], 0, "{retried_again:?}");

    assert!(
        ledger_before.is_subset(&app.ledger_rows()),
        "{shape:?}: an earlier ledger row was changed or removed"
    );
    assert_eq!(app.violations(), Vec::<String>::new(), "{shape:?}");
    app.unverified_still_uncredited();

    let pause = app.credits(&["pause-packages", "--yes", "--reason", "INC-9"]);
    assert_eq!(pause.code, 0, "{pause:?}");
    let resume = app.credits(&["resume-packages", "--yes", "--reason", "INC-9"]);
    assert_eq!(resume.code, 0, "{resume:?}");

    let email: String = app
        .db
        .client()
        .query_one(
            "SELECT email FROM credits_fixture.expected_finding WHERE kind = 'MISSING_TRANSACTION'",
            &[],
        )
        .unwrap()
        .get(0);
    let support = app.credits(&["support", &format!("  {email} ")]);
    assert_eq!(support.code, 0, "{support:?}");
    assert!(support.stdout.contains("credited"), "{support:?}");
    let log = app.credits(&["log", "--output", "json"]);
    assert_eq!(log.code, 0, "{log:?}");
    assert!(
        !log.json()["entries"].as_array().unwrap().is_empty(),
        "{log:?}"
    );
    let health = app.credits(&["health"]);
    assert!((0..=2).contains(&health.code), "{health:?}");
    app
}

/// The reads the tool's indexes are for use them, whatever the app's column
/// types (a Prisma timestamp(3), bigint ids): with the scans that read the
/// whole table turned off, each read's plan is a scan of its index. What
/// `health` counts of the unsettled webhook events (WEBHOOK_EVENT_FAILED) is
/// an index-only scan of V027's covering index (under V020's name, no
/// temporary one left); the newest success event is read by time (V020,
/// V027); a window of recharges by their creation time (V004, V028).
fn reads_use_the_tools_indexes(app: &Shaped) {
    let mut client = app.db.client();
    // An index-only scan costs less than an index scan once the table's
    // pages are marked all-visible.
    client.batch_execute("VACUUM ANALYZE").unwrap();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        .unwrap();
    let indexes: Vec<String> = tx
        .query(
            "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'credits_%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for (read, scan) in [
        (
            "SELECT e.payment_intent_id FROM credits_ops.app_webhook_event e \
             WHERE (e.status = 'failed' OR (e.status = 'received' AND e.received_at < now() - interval '1 hour')) \
               AND e.received_at >= now() - interval '7 days'",
            "Index Only Scan using credits_webhook_event_unsettled_idx",
        ),
        (
            "SELECT max(e.received_at) FROM credits_ops.app_webhook_event e",
            "Backward using credits_webhook_event_received_idx",
        ),
        (
            "SELECT r.id FROM credits_ops.app_recharge r WHERE r.created_at >= now() - interval '7 days'",
            "Scan using credits_recharge_created",
        ),
    ] {
        let plan: Vec<String> = tx
            .query(&format!("EXPLAIN {read}"), &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(
            plan.iter().any(|line| line.contains(scan)),
            "{read}\n{plan:#?}\n{indexes:#?}"
        );
    }
    let temporary: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN \
             ('credits_webhook_event_unsettled_cover_idx', 'credits_recharge_created_utc_idx')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(temporary, 0, "{indexes:#?}");
}

/// The identity of each index the tool built on the app's tables: the same
/// after an adapter rebuild means none was built again.
fn tool_index_oids(app: &Shaped) -> Vec<(String, u32)> {
    app.db
        .client()
        .query(
            "SELECT relname::text, oid FROM pg_class WHERE relkind = 'i' AND relname LIKE 'credits\\_%' \
             AND relnamespace = 'public'::regnamespace ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn the_runbooks_own_app() {
    let app = incident_flow(Shape::Runbook, &RUNBOOK);

    // Its only evidence of the failed payment is a webhook_failures row anon
    // could have inserted: not credited until the operator trusts it.
    let forged = "c67k489hfjlnce76i1e1znww";
    let credited = |app: &Shaped| {
        app.count(&format!(
            "SELECT count(*) FROM credit_transaction WHERE related_recharge_id = '{forged}'"
        ))
    };
    assert_eq!(credited(&app), 0);
    let trusted = app.credits(&[
        "retry-failed",
        "--trust-app-evidence",
        "--yes",
        "--reason",
        "INC-9",
        "--output",
        "json",
    ]);
    assert_eq!(trusted.code, 0, "{trusted:?}");
    assert_eq!(trusted.json()["credited"], 1, "{trusted:?}");
    assert_eq!(credited(&app), 1);
    let evidence: String = app
        .db
        .client()
        .query_one(
            "SELECT detail->>'evidence' FROM credits_ops.repair_log WHERE recharge_id = $1",
            &[&forged],
        )
        .unwrap()
        .get(0);
    assert!(evidence.contains("webhook_failures"), "{evidence}");
    assert_eq!(app.violations(), Vec::<String>::new());

    // The rows credits wrote carry what the app keeps: the running balance,
    // a generated text id, metadata naming the writer, and the totals.
    let written = app.count(
        "SELECT count(*) FROM credit_transaction t JOIN user_credit_balance b ON b.user_id = t.user_id \
         WHERE t.metadata->>'written_by' = 'credits' AND t.balance_after = b.balance \
           AND length(t.id) = 24 AND b.total_recharged >= t.amount",
    );
    assert_eq!(
        written, 2,
        "both credits keep balance_after and total_recharged"
    );

    // What the app's own crediting function answers for a recharge, as the
    // webhook (the connecting role) calls it.
    let app_credits = |recharge: &str| -> String {
        app.db
            .client()
            .query_one(
                "SELECT public.handle_stripe_webhook_payment_success(payment_intent_id, id) \
                 FROM credit_recharge WHERE id = $1",
                &[&recharge],
            )
            .unwrap()
            .get(0)
    };
    // A late Stripe retry through the app's own function is a duplicate.
    let ledger = app.count("SELECT count(*) FROM credit_transaction");
    assert_eq!(app_credits("fshse637ei7tbhx2521ptlcf"), "duplicate");
    assert_eq!(app.count("SELECT count(*) FROM credit_transaction"), ledger);

    // The reverse: a recharge the app credits itself is never credited again.
    assert_eq!(app_credits("cgt8jj9t93qs3ysm41svs66n"), "success");
    for args in [
        &["bulk-fix", "--yes"][..],
        &[
            "retry-failed",
            "--include-pending",
            "--trust-app-evidence",
            "--yes",
        ],
        &["fix-user", "erin@runbook.test", "--yes"],
    ] {
        let run = app.credits(args);
        assert_eq!(run.code, 0, "{run:?}");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM credit_transaction WHERE related_recharge_id = 'cgt8jj9t93qs3ysm41svs66n'"
        ),
        1
    );
    assert_eq!(app.violations(), Vec::<String>::new());

    // No correction type in the app's enum: reversing duplicates is refused.
    let before = app.db.fingerprint();
    let reverse = app.credits(&[
        "fix-user",
        "frank@runbook.test",
        "--reverse-duplicates",
        "--yes",
    ]);
    assert_eq!(reverse.code, 4, "{reverse:?}");
    assert!(reverse.stderr.contains("types.adjustment"), "{reverse:?}");
    assert_eq!(app.db.fingerprint(), before);

    // RLS with text ids and the app's own users: before the fix a signed-in
    // user can call the app's crediting function, write the evidence table
    // and read everyone's ledger; after it, none of that, and the webhook
    // role still credits.
    let check = app.credits(&["rls-fix", "--check", "--output", "json"]);
    assert_eq!(check.code, 1, "{check:?}");
    let fix = app.credits(&["rls-fix", "--yes", "--reason", "INC-9", "--output", "json"]);
    assert_eq!(fix.code, 0, "{fix:?}");
    let revoked = fix.json()["revoked_functions"].to_string();
    assert!(
        revoked.contains("handle_stripe_webhook_payment_success"),
        "{fix:?}"
    );
    let check = app.credits(&["rls-fix", "--check", "--output", "json"]);
    assert_eq!(check.code, 0, "{check:?}");
    // As a signed-in user (erin) through the API: in a transaction rolled back.
    let as_erin = |work: &dyn Fn(&mut postgres::Transaction<'_>)| {
        let mut client = app.db.client();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(
            "SET LOCAL ROLE authenticated; \
             SELECT set_config('request.jwt.claims', '{\"sub\": \"lifwwzv0l50stf9qqg6kfs70\"}', true)",
        )
        .unwrap();
        work(&mut tx);
        tx.rollback().unwrap();
    };
    as_erin(&|tx| {
        let minted = tx.query_one(
            "SELECT public.handle_stripe_webhook_payment_success(payment_intent_id, id) \
             FROM credit_recharge WHERE id = 'cgt8jj9t93qs3ysm41svs66n'",
            &[],
        );
        let error =
            minted.expect_err("a signed-in user still mints credits through the app's function");
        assert_eq!(
            error.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{error}"
        );
    });
    as_erin(&|tx| {
        let count = |tx: &mut postgres::Transaction<'_>, sql: &str| -> i64 {
            tx.query_one(sql, &[]).unwrap().get(0)
        };
        let seen = count(tx, "SELECT count(*) FROM credit_recharge");
        let own = count(
            tx,
            "SELECT count(*) FROM credit_recharge WHERE user_id = 'lifwwzv0l50stf9qqg6kfs70'",
        );
        assert!(
            seen > 0 && seen == own,
            "a signed-in user sees only their own recharges"
        );
    });
    // The evidence table is closed now: its rows count as evidence again.
    let debug = app.credits(&["debug", "--output", "json"]);
    assert!(!debug.stdout.contains("forgeable"), "{debug:?}");
}

#[test]
fn a_prisma_app_through_its_mapping_file() {
    let app = incident_flow(Shape::Prisma, &PRISMA);
    reads_use_the_tools_indexes(&app);
    let profile = app.credits(&["profile", "--output", "json"]);
    let sources: BTreeSet<String> = profile.json()["profile"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["item"].as_str().unwrap().starts_with("recharges."))
        .map(|item| item["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sources,
        BTreeSet::from(["config".to_string()]),
        "{profile:?}"
    );

    // Duplicates reversed with the app's own ADJUSTMENT type, once.
    for _ in 0..2 {
        let run = app.credits(&[
            "fix-user",
            "frank@prisma.test",
            "--reverse-duplicates",
            "--yes",
        ]);
        assert_eq!(run.code, 0, "{run:?}");
    }
    let adjustments = app.count(
        "SELECT count(*) FROM \"CreditTransaction\" WHERE type = 'ADJUSTMENT' AND amount < 0",
    );
    assert_eq!(adjustments, 1);
    assert_eq!(app.violations(), Vec::<String>::new());
}

#[test]
fn a_bigint_app_whose_status_says_paid() {
    let app = incident_flow(Shape::Serial, &SERIAL);
    reads_use_the_tools_indexes(&app);
    // The credited recharge keeps the app's spelling, and identity ids were left to the app.
    let paid = app.count(
        "SELECT count(*) FROM credit_recharge r JOIN credit_transaction t ON t.related_recharge_id = r.id \
         WHERE r.id = 1005 AND r.status = 'paid' AND t.id > 1000",
    );
    assert_eq!(paid, 1);

    // Without its mapping file the profile differs: every command refuses
    // until install rebuilds the adapter, which it audits.
    let unmapped = app.db.credits(&["debug", "--output", "json"]);
    assert_eq!(unmapped.code, 4, "the profile changed: {unmapped:?}");
    assert!(unmapped.stderr.contains("credits install"), "{unmapped:?}");
    let indexes = tool_index_oids(&app);
    let rebuilt = app
        .db
        .credits(&["install", "--yes", "--reason", "no mapping"]);
    assert_eq!(rebuilt.code, 0, "{rebuilt:?}");
    // The generated migrations ran again: every index was left as it was,
    // none built to be dropped.
    assert_eq!(tool_index_oids(&app), indexes, "{rebuilt:?}");
    assert!(!rebuilt.stderr.contains("DROP INDEX"), "{rebuilt:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM credits_ops.repair_log WHERE action = 'adapter_rebuilt'"),
        1
    );
    // Then 'paid' is not guessed at: those recharges are UNKNOWN_STATUS, and
    // the repairs credit none of them.
    let debug = app.db.credits(&["debug", "--output", "json", "--all"]);
    let unknown = debug.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "UNKNOWN_STATUS")
        .count();
    assert!(unknown > 0, "{debug:?}");
    let ledger = app.count("SELECT count(*) FROM credit_transaction");
    for args in [
        &["bulk-fix", "--yes"][..],
        &["retry-failed", "--include-pending", "--yes"],
    ] {
        let run = app.db.credits(args);
        assert_eq!(run.code, 0, "{run:?}");
    }
    assert_eq!(app.count("SELECT count(*) FROM credit_transaction"), ledger);
}
