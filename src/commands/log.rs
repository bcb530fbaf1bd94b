//! `credits log`: the audit log `credits_ops.repair_log`, newest first:
//! who changed what, when and why (repairs, pauses and resumes), filtered
//! by user, reason, action and time; with --writers, the balance audit
//! trail instead (`credits audit enable`).

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::audit_log;
use crate::cli::{Format, LogArgs};
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::{Report, note};
use crate::scope;
use crate::trail;

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
    if args.writers {
        let Some(mut writers) = trail::writers(&mut tx, since, user_id.as_deref(), fetch)? else {
            return Err(fail(
                Code::Contract,
                "the balance audit trail was never enabled here: `credits audit enable --dry-run` \
                 shows what it installs",
            ));
        };
        tx.commit()?;
        let more = limit.is_some_and(|limit| writers.rows.len() as i64 > limit);
        if more {
            writers.rows.pop();
        }
        let count = writers.rows.len();
        let mut report = Report::new("log");
        report.field("database", target);
        report.field("since", crate::output::time(&since));
        report.field("user_id", user_id.map(|id| id.to_string()));
        report.field("limit", limit);
        report.sections.push(writers);
        report.csv_section = "writers";
        report.print(format)?;
        return Ok(hint(
            count,
            more,
            &since,
            "transactions in the balance audit trail",
        ));
    }
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

    Ok(hint(count, rows.len() > count, &since, "audit log entries"))
}

/// Says on stderr when nothing matched or --limit cut some off.
fn hint(count: usize, more: bool, since: &DateTime<Utc>, what: &str) -> Code {
    if count == 0 {
        note(format!(
            "no {what} match since {}; try an earlier --since (e.g. 90d) or fewer filters",
            crate::output::time(since)
        ));
    } else if more {
        note(format!(
            "showing the newest {count}; more match: raise --limit or use --all"
        ));
    }
    Code::Ok
}
