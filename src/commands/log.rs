//! `credits log`: the audit log `credits_ops.repair_log`, newest first:
//! who changed what, when and why (repairs, pauses and resumes), filtered
//! by user, reason, action and time.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cli::{Format, LogArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, note};
use crate::scope;
use crate::sql;

const COLUMNS: &[&str] = &[
    "logged_at",
    "operator",
    "reason",
    "command",
    "action",
    "recharge_id",
    "user_id",
    "credits_delta",
    "balance_before",
    "balance_after",
    "detail",
];

pub fn run(db: &mut Db, args: &LogArgs, format: Format) -> Result<Code> {
    let since = args.since.at;
    let limit = (!args.all).then_some(args.limit);
    let target = db.target.to_string();
    let mut tx = db.snapshot()?;
    let user_id = args
        .user
        .as_deref()
        .map(|user| scope::resolve_subject(&mut tx, user))
        .transpose()?;
    // One row more than shown, to tell whether --limit cut anything off.
    let fetch = limit.map(|limit| limit.saturating_add(1));
    let rows = tx.query(
        sql::LOG_LIST,
        &[&since, &user_id, &args.reason, &args.action, &fetch],
    )?;
    tx.commit()?;

    let mut entries = Section::new("entries", "Audit log (newest first)", COLUMNS);
    let shown = limit.map_or(rows.len(), |limit| {
        rows.len().min(usize::try_from(limit).unwrap_or(usize::MAX))
    });
    for row in rows.iter().take(shown) {
        let id = |column: &str| {
            row.get::<_, Option<String>>(column)
                .map_or(Value::Null, |id| id.to_string().into())
        };
        let number = |column: &str| row.get::<_, Option<i64>>(column).into();
        entries.push(vec![
            crate::output::time(&row.get::<_, DateTime<Utc>>("logged_at")).into(),
            row.get::<_, String>("operator").into(),
            row.get::<_, Option<String>>("reason").into(),
            row.get::<_, String>("command").into(),
            row.get::<_, String>("action").into(),
            id("recharge_id"),
            id("user_id"),
            number("credits_delta"),
            number("balance_before"),
            number("balance_after"),
            // A JSON value in JSON; tables and CSV print it as JSON text.
            row.get::<_, Option<Value>>("detail").unwrap_or(Value::Null),
        ]);
    }
    let count = entries.rows.len();

    let mut report = Report::new("log");
    report.field("database", target);
    report.field("since", crate::output::time(&since));
    report.field("user_id", user_id.map(|id| id.to_string()));
    report.field("reason", args.reason.clone());
    report.field("action", args.action.clone());
    report.field("limit", limit);
    report.sections.push(entries);
    report.csv_section = "entries";
    report.print(format)?;

    if count == 0 {
        note(format!(
            "no audit log entries match since {}; try an earlier --since (e.g. 90d) or fewer filters",
            crate::output::time(&since)
        ));
    } else if rows.len() > count {
        note(format!(
            "showing the newest {count} entries; more match: raise --limit or use --all"
        ));
    }
    Ok(Code::Ok)
}
