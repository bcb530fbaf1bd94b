//! `credits debug`: every check of the catalogue on one snapshot, as a
//! summary (one row per check) and the details (one row per finding).

use std::collections::HashMap;

use anyhow::Result;

use crate::checks::{self, FINDING_COLUMNS};
use crate::cli::{DebugArgs, Format};
use crate::db::Db;
use crate::exit::Code;
use crate::kept;
use crate::output::{Report, Section, Streamed, note};
use crate::scope::Scope;

pub fn run(db: &mut Db, args: &DebugArgs, format: Format) -> Result<Code> {
    let target = db.target.to_string();
    if !args.facts.rescan {
        kept::refresh(db, kept::REFRESH_BUDGET);
    }
    // Opened first: the snapshot's transaction then borrows `db`.
    let mut second = db
        .reconnect()
        .map_err(|error| note(format!("running every check on one connection: {error:#}")))
        .ok();
    let mut tx = db.snapshot()?;
    let scope = Scope::resolve(&mut tx, &args.scope)?;
    scope.apply(&mut tx)?;
    let side = checks::Side::open(second.as_mut(), &mut tx, &scope)?;
    let facts = kept::source(&mut tx, args.facts.rescan)?;
    let mut report = Report::new("debug");
    report.field("database", target);
    report.field("facts", facts.describe());
    report.field("since", crate::output::time(&scope.since));
    report.field("stuck_after_seconds", scope.stuck_after.as_secs());
    report.field("user_id", scope.user_id.clone());
    report.field("payment_intent_id", scope.payment_intent.clone());
    // Scripts get every finding, written as it arrives (memory stays flat
    // however many there are); people get the first --limit of each check.
    let mut stream = (format != Format::Table)
        .then(|| Streamed::start(format, &report, "findings", FINDING_COLUMNS));
    let limit = if args.all { usize::MAX } else { args.limit };
    let mut details = Section::new("findings", "Findings", FINDING_COLUMNS);
    let mut shown: HashMap<String, usize> = HashMap::new();
    let outcomes = checks::run_all(
        &mut tx,
        side,
        &facts,
        scope.user_id.is_some() || scope.payment_intent.is_some(),
        |finding| match &mut stream {
            Some(stream) => stream.push(&finding.row()),
            None => {
                let count = shown.entry(finding.check.clone()).or_default();
                if *count < limit {
                    *count += 1;
                    details.push(finding.row());
                }
            }
        },
    )?;
    tx.commit()?;

    let problems: u64 = outcomes.iter().map(checks::Outcome::problems).sum();
    let found: u64 = outcomes.iter().filter_map(|o| o.found).sum();
    let hidden = if stream.is_some() {
        0
    } else {
        found as usize - details.rows.len()
    };
    report.field("problems", problems);
    report.sections.push(checks::summary(&outcomes));
    match stream {
        Some(stream) => stream.finish(&report)?,
        None => {
            report.sections.push(details);
            report.print(format)?;
        }
    }
    if hidden > 0 {
        note(format!(
            "{hidden} more finding(s) not shown: use --all, or --output json"
        ));
    }
    if problems == 0 {
        note(format!("all {} checks passed", outcomes.len()));
        Ok(Code::Ok)
    } else {
        note(format!(
            "{problems} problem(s) found; each finding names the command that fixes it"
        ));
        Ok(Code::ProblemsFound)
    }
}
