//! `credits debug`: every check of the catalogue on one snapshot, as a
//! summary (one row per check) and the details (one row per finding).

use std::collections::HashMap;

use anyhow::Result;
use chrono::Utc;
use serde_json::Value;

use crate::checks::{self, Finding};
use crate::cli::{DebugArgs, Format, ScopeArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, Streamed, note};
use crate::scope::{self, Scope};

pub fn run(db: &mut Db, args: &DebugArgs, format: Format) -> Result<Code> {
    let since = args.scope.window.since.at;
    let target = db.target.to_string();
    let mut tx = db.snapshot()?;
    let scope = resolve_scope(&mut tx, &args.scope, since)?;
    scope.apply(&mut tx)?;
    let mut report = Report::new("debug");
    report.field("database", target);
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
        scope.user_id.is_some() || scope.payment_intent.is_some(),
        |finding| match &mut stream {
            Some(stream) => stream.push(&row(finding)),
            None => {
                let count = shown.entry(finding.check.clone()).or_default();
                if *count < limit {
                    *count += 1;
                    details.push(row(finding));
                }
            }
        },
    )?;
    tx.commit()?;

    let mut summary = Section::new(
        "summary",
        "Summary",
        &[
            "check", "severity", "status", "count", "credits", "fix", "title",
        ],
    );
    let problems: u64 = outcomes.iter().map(checks::Outcome::problems).sum();
    let found: u64 = outcomes.iter().filter_map(|o| o.found).sum();
    let hidden = if stream.is_some() {
        0
    } else {
        found as usize - details.rows.len()
    };
    for outcome in &outcomes {
        let check = &outcome.check;
        let Some(found) = outcome.found else {
            summary.push(vec![
                check.name.clone().into(),
                check.severity.as_str().into(),
                "skipped".into(),
                Value::Null,
                Value::Null,
                Value::Null,
                format!(
                    "{} (skipped: {})",
                    check.title,
                    outcome.skipped.as_deref().unwrap_or_default()
                )
                .into(),
            ]);
            continue;
        };
        let some = |value: Value| if found == 0 { Value::Null } else { value };
        summary.push(vec![
            check.name.clone().into(),
            check.severity.as_str().into(),
            if found == 0 { "ok" } else { "found" }.into(),
            found.into(),
            some(outcome.credits.into()),
            some(check.fix.clone().into()),
            check.title.clone().into(),
        ]);
    }

    report.field("problems", problems);
    report.sections.push(summary);
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

fn resolve_scope(
    tx: &mut postgres::Transaction<'_>,
    args: &ScopeArgs,
    since: chrono::DateTime<Utc>,
) -> Result<Scope> {
    let user_id = args
        .user
        .as_deref()
        .map(|user| scope::resolve_user(tx, user))
        .transpose()?;
    let payment_intent = args
        .payment_intent
        .as_deref()
        .map(|pi| scope::resolve_payment_intent(tx, pi))
        .transpose()?;
    Ok(Scope {
        since,
        since_arg: args.window.since.text.clone(),
        stuck_after: args.window.stuck_after,
        user_id,
        payment_intent,
    })
}

const FINDING_COLUMNS: &[&str] = &[
    "check",
    "severity",
    "recharge_id",
    "user_id",
    "payment_intent_id",
    "credits",
    "detail",
    "fix",
    "dashboard_url",
];

fn row(finding: Finding) -> Vec<Value> {
    let dashboard_url = finding
        .payment_intent_id
        .as_deref()
        .map(scope::dashboard_url);
    vec![
        finding.check.into(),
        finding.severity.as_str().into(),
        finding.recharge_id.into(),
        finding.user_id.into(),
        finding.payment_intent_id.into(),
        finding.credits.into(),
        finding.detail.into(),
        finding.fix.into(),
        dashboard_url.into(),
    ]
}
