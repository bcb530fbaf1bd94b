//! `credits log`: the audit log `credits_ops.repair_log`, newest first:
//! who changed what, when and why (repairs, pauses and resumes), filtered
//! by user, reason, action and time.

use anyhow::Result;

use crate::audit_log;
use crate::cli::{Format, LogArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, note};
use crate::scope;

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
    let rows = audit_log::entries(
        &mut tx,
        &audit_log::Filter {
            since,
            user_id: user_id.as_deref(),
            reason: args.reason.as_deref(),
            action: args.action.as_deref(),
            limit: fetch,
        },
    )?;
    tx.commit()?;
    let shown = limit.map_or(rows.len(), |limit| {
        rows.len().min(usize::try_from(limit).unwrap_or(usize::MAX))
    });
    let entries = audit_log::section("entries", "Audit log (newest first)", &rows[..shown]);
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
