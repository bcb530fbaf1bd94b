//! What `credits support` shows: what the runbook's support section asks
//! for, on one page: who the user is, every recharge and whether it was credited, the
//! balance against the ledger, the findings about them, the audit log, and
//! the balance audit trail where it is enabled (who moved their balance).

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit_log;
use crate::checks;
use crate::db::Db;
use crate::kept;
use crate::output::{Report, Section};
use crate::scope::{self, Scope};
use crate::sql;
use crate::trail;

/// The page of the user `subject` names (an id, an email or a payment
/// intent), on one snapshot: (the report, the user's id).
pub fn page(db: &mut Db, subject: &str, stuck_after: Duration) -> Result<(Report, String)> {
    let target = db.target.to_string();
    let mut tx = db.snapshot()?;
    let user_id = scope::resolve_subject(&mut tx, subject)?;

    let email: Option<String> = if scope::relation_exists(&mut tx, "auth.users")? {
        tx.query_opt(sql::SUPPORT_EMAIL, &[&user_id])?
            .map(|row| row.get("email"))
    } else {
        None
    };
    let ledger = tx.query_one(sql::SUPPORT_USER, &[&user_id])?;
    let balance: Option<i64> = ledger.get("balance");
    let ledger_sum: i64 = ledger.get("ledger_sum");
    let mut user = Section::new(
        "user",
        "User",
        &[
            "user_id",
            "email",
            "balance",
            "ledger_sum",
            "balance_matches_ledger",
            "transactions",
        ],
    );
    user.push(vec![
        user_id.to_string().into(),
        email.clone().into(),
        balance.into(),
        ledger_sum.into(),
        (balance == Some(ledger_sum)).into(),
        ledger.get::<_, i64>("transactions").into(),
    ]);

    let mut recharges = Section::new(
        "recharges",
        "Recharges",
        &[
            "recharge_id",
            "payment_time",
            "payment_intent_id",
            "credits",
            "status",
            "credited",
            "dashboard_url",
        ],
    );
    for row in tx.query(sql::SUPPORT_RECHARGES, &[&user_id])? {
        let pi: Option<String> = row.get("payment_intent_id");
        let credited = match row.get::<_, i64>("recharge_transactions") {
            0 => "no".to_string(),
            1 => format!("yes ({})", row.get::<_, i64>("credited")),
            n => format!("{n} times ({} in all)", row.get::<_, i64>("credited")),
        };
        recharges.push(vec![
            row.get::<_, String>("recharge_id").to_string().into(),
            crate::output::time(&row.get::<_, DateTime<Utc>>("payment_time")).into(),
            pi.clone().into(),
            row.get::<_, i64>("credits").into(),
            row.get::<_, String>("status").into(),
            credited.into(),
            pi.as_deref().map(scope::dashboard_url).into(),
        ]);
    }

    // Every finding about this user, at any age.
    Scope {
        since: DateTime::UNIX_EPOCH,
        since_arg: "all".to_string(),
        stuck_after,
        user_id: Some(user_id.clone()),
        payment_intent: None,
    }
    .apply(&mut tx)?;
    let mut findings = Section::new(
        "findings",
        "Findings",
        &[
            "check",
            "severity",
            "recharge_id",
            "credits",
            "detail",
            "fix",
        ],
    );
    let facts = kept::source(&mut tx, false)?;
    checks::run_all(&mut tx, None, &facts, true, |finding| {
        if finding.user_id.as_deref() == Some(user_id.as_str()) {
            findings.push(vec![
                finding.check.into(),
                finding.severity.as_str().into(),
                finding.recharge_id.into(),
                finding.credits.into(),
                finding.detail.into(),
                finding.fix.into(),
            ]);
        }
    })?;

    let mut audit = Section::new("audit", "Recent audit log", audit_log::COLUMNS);
    audit_log::each(
        &mut tx,
        &audit_log::Filter {
            since: DateTime::<Utc>::UNIX_EPOCH,
            user_id: Some(&user_id),
            reason: None,
            action: None,
            limit: Some(20),
        },
        |entry| audit.push(audit_log::row(entry)),
    )?;
    // Only where the balance audit trail was ever enabled.
    let writers = if trail::exists(&mut tx)? {
        let mut writers = Section::new(
            "writers",
            "Balance writers (newest first)",
            trail::WRITER_COLUMNS,
        );
        trail::writers(
            &mut tx,
            DateTime::UNIX_EPOCH,
            Some(&user_id),
            Some(20),
            |row| writers.push(row),
        )?;
        Some(writers)
    } else {
        None
    };
    tx.commit()?;

    let mut report = Report::new("support");
    report.field("database", target);
    report.field("user_id", user_id.to_string());
    report.field("email", email.map_or(Value::Null, Value::from));
    report.sections = vec![user, recharges, findings, audit];
    report.sections.extend(writers);
    report.csv_section = "recharges";
    Ok((report, user_id.to_string()))
}
