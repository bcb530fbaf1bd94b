//! `credits log`: the audit log `credits_ops.repair_log`, newest first:
//! who changed what, when and why (repairs, pauses and resumes), filtered
//! by user, reason, action and time; with --writers, the balance audit
//! trail instead (`credits audit enable`).

use anyhow::Result;
use serde_json::Value;

use crate::audit_log;
use crate::cli::{Format, LogArgs};
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::{Report, Section, Streamed, note};
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
    if args.writers && !trail::exists(&mut tx)? {
        return Err(fail(
            Code::Contract,
            "the balance audit trail was never enabled here: `credits audit enable --dry-run` \
             shows what it installs",
        ));
    }
    // One row more than shown, to tell whether --limit cut anything off.
    let fetch = limit.map(|limit| limit.saturating_add(1));
    let mut report = Report::new("log");
    report.field("database", target);
    report.field("since", crate::output::time(&since));
    report.field("user_id", user_id.clone());
    if !args.writers {
        report.field("reason", args.reason.clone());
        report.field("action", args.action.clone());
    }
    report.field("limit", limit);
    let (section, what) = if args.writers {
        let title = "Balance writers (newest first)";
        let section = Section::new("writers", title, trail::WRITER_COLUMNS);
        (section, "transactions in the balance audit trail")
    } else {
        let title = "Audit log (newest first)";
        let section = Section::new("entries", title, audit_log::COLUMNS);
        (section, "audit log entries")
    };
    let mut listing = Listing::start(format, &report, section, limit);
    if args.writers {
        trail::writers(&mut tx, since, user_id.as_deref(), fetch, |row| {
            listing.push(row)
        })?;
    } else {
        let filter = audit_log::Filter {
            since,
            user_id: user_id.as_deref(),
            reason: args.reason.as_deref(),
            action: args.action.as_deref(),
            limit: fetch,
        };
        audit_log::each(&mut tx, &filter, |entry| {
            listing.push(audit_log::row(entry))
        })?;
    }
    tx.commit()?;
    let (shown, more) = listing.finish(report, format)?;
    if shown == 0 {
        note(format!(
            "no {what} match since {}; try an earlier --since (e.g. 90d) or fewer filters",
            crate::output::time(&since)
        ));
    } else if more {
        note(format!(
            "showing the newest {shown}; more match: raise --limit or use --all"
        ));
    }
    Ok(Code::Ok)
}

/// The rows of a log, at most --limit: written as they arrive for scripts
/// (JSON, CSV; `log --all` after a bulk repair is half a million of them),
/// gathered into a table for people.
struct Listing {
    stream: Option<Streamed>,
    table: Section,
    shown_at_most: usize,
    matched: usize,
}

impl Listing {
    fn start(format: Format, report: &Report, table: Section, limit: Option<i64>) -> Listing {
        Listing {
            stream: (format != Format::Table)
                .then(|| Streamed::start(format, report, table.name, &table.columns)),
            table,
            shown_at_most: limit.map_or(usize::MAX, |limit| {
                usize::try_from(limit).unwrap_or(usize::MAX)
            }),
            matched: 0,
        }
    }

    fn push(&mut self, row: Vec<Value>) {
        self.matched += 1;
        if self.matched > self.shown_at_most {
            return;
        }
        match &mut self.stream {
            Some(stream) => stream.push(&row),
            None => self.table.push(row),
        }
    }

    /// Ends the output; how many rows were shown, and whether more matched.
    fn finish(self, mut report: Report, format: Format) -> Result<(usize, bool)> {
        match self.stream {
            Some(stream) => stream.finish(&report)?,
            None => {
                report.sections.push(self.table);
                report.print(format)?;
            }
        }
        let shown = self.matched.min(self.shown_at_most);
        Ok((shown, self.matched > shown))
    }
}
