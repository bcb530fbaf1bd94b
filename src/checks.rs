//! The checks catalogue: one file per check under `sql/checks/`, each
//! returning the same columns, combined into one report (as Supabase's
//! splinter does with its lints). Adding a check is adding a file.
//!
//! A file's leading comments carry its metadata:
//! `-- title: ...` (what it finds), `-- severity: error|warning|info` (what
//! its findings are), `-- fix: ...` (the command that fixes it,
//! or `none: ...`), and `-- requires: schema.table` for optional tables (the
//! check is skipped, and says so, when one is absent).

use std::sync::mpsc;

use anyhow::{Context, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Row, Transaction};
use serde_json::Value;

use crate::db::{self, Db};
use crate::kept::Facts;
use crate::output::{Section, note};
use crate::scope::{self, Scope, relation_exists};
use crate::sql;

pub struct Check {
    /// `MISSING_TRANSACTION` for `sql/checks/missing_transaction.sql`.
    pub name: String,
    pub title: String,
    /// `error` (money owed, ledger wrong), `warning` (a human must verify)
    /// or `info` (context, never a problem).
    pub severity: Severity,
    pub fix: String,
    pub requires: Vec<String>,
    /// `-- scope: database`: about the whole database, not one user.
    pub database_wide: bool,
    pub sql: &'static str,
}

/// One row a check returned.
pub struct Finding {
    pub check: String,
    pub severity: Severity,
    pub recharge_id: Option<String>,
    pub user_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub credits: Option<i64>,
    pub detail: String,
    pub fix: Option<String>,
}

impl Finding {
    /// Errors and warnings are problems; `info` is worth knowing, not wrong.
    pub fn is_problem(&self) -> bool {
        self.severity != Severity::Info
    }
}

/// What one check found, counted (the findings themselves are streamed to
/// the caller: see [`run_all`]).
pub struct Outcome {
    pub check: Check,
    /// How many findings; None when the check was skipped: see `skipped`.
    pub found: Option<u64>,
    /// The credits its findings are about, summed.
    pub credits: i64,
    /// Why it was skipped: an optional table is absent, or it is about the
    /// whole database while the run is about one user or payment.
    pub skipped: Option<String>,
}

impl Outcome {
    /// Findings that are problems (errors and warnings, not info).
    pub fn problems(&self) -> u64 {
        if self.check.severity == Severity::Info {
            0
        } else {
            self.found.unwrap_or(0)
        }
    }
}

/// How bad a finding is: an error loses or doubles credits, a warning needs
/// a look, info is worth knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn parse(word: &str) -> Result<Severity> {
        match word {
            "error" => Ok(Severity::Error),
            "warning" => Ok(Severity::Warning),
            "info" => Ok(Severity::Info),
            other => anyhow::bail!("unknown severity {other:?} (error, warning or info)"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

pub fn catalogue() -> Result<Vec<Check>> {
    sql::dir("checks")
        .map(|(file, text)| {
            let header = |key: &str| {
                text.lines()
                    .take_while(|line| line.starts_with("--"))
                    .filter_map(|line| line.strip_prefix(&format!("-- {key}:")))
                    .map(|value| value.trim().to_string())
                    .collect::<Vec<_>>()
            };
            Ok(Check {
                name: file.trim_end_matches(".sql").to_uppercase(),
                title: header("title").join(" "),
                severity: Severity::parse(&header("severity").join(" "))
                    .with_context(|| format!("sql/checks/{file}"))?,
                fix: header("fix").join(" "),
                requires: header("requires"),
                database_wide: header("scope").iter().any(|s| s == "database"),
                sql: text,
            })
        })
        .collect()
}

/// The outcome of every check, with the branch of the statement of those
/// that run: skipped where a required relation is absent, or, with
/// `one_subject` (the run is about one user or payment), where the check is
/// headed `-- scope: database` (RLS, a silent webhook): not about that user.
/// The branches are split in two: those that read the facts, and those that
/// do not (the webhook events, RLS, the balance trail), which can run on a
/// second connection meanwhile (see [`Side`]).
fn planned(tx: &mut Transaction<'_>, one_subject: bool) -> Result<(Vec<Outcome>, Branches)> {
    let mut outcomes = Vec::new();
    for check in catalogue()? {
        let mut missing = Vec::new();
        // `-- requires: relation = what it is, for people`
        for required in &check.requires {
            let (relation, described) = required.split_once(" = ").unwrap_or((required, required));
            if !relation_exists(tx, relation.trim())? {
                missing.push(described.trim().to_string());
            }
        }
        let skipped = if !missing.is_empty() {
            Some(format!("{} does not exist", missing.join(", ")))
        } else if one_subject && check.database_wide {
            Some("about the whole database, not one user".to_string())
        } else {
            None
        };
        outcomes.push(Outcome {
            found: skipped.is_none().then_some(0),
            credits: 0,
            check,
            skipped,
        });
    }
    let mut branches = Branches::default();
    for check in outcomes
        .iter()
        .filter(|o| o.found.is_some())
        .map(|o| &o.check)
    {
        let branch = format!("({})", check.sql.trim().trim_end_matches(';'));
        let code: String = check
            .sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect();
        if ["recharge_facts", "user_facts", "evidence_facts"]
            .iter()
            .any(|facts| code.contains(facts))
        {
            branches.facts.push(branch);
        } else {
            branches.own.push(branch);
        }
    }
    Ok((outcomes, branches))
}

/// The branches of the checks' statement: those reading the facts (after
/// the facts' head), and those reading the tables on their own.
#[derive(Default)]
struct Branches {
    facts: Vec<String>,
    own: Vec<String>,
}

impl Branches {
    /// The statements to run: on `tx` the facts' head then `over` (every
    /// branch, when there is no side connection), and on the side the
    /// branches that do not read the facts. `wrap` makes a statement of
    /// a head (with a trailing WITH list, or none) and the branches' UNION ALL.
    fn statements(
        self,
        facts: &Facts,
        side: bool,
        wrap: impl Fn(Option<&str>, &str) -> String,
    ) -> (Option<String>, Option<String>) {
        let union =
            |branches: &[String]| (!branches.is_empty()).then(|| branches.join("\nUNION ALL\n"));
        let head = facts.checks_head();
        if side {
            (
                union(&self.facts).map(|b| wrap(Some(&head), &b)),
                union(&self.own).map(|b| wrap(None, &b)),
            )
        } else {
            let all: Vec<String> = self.facts.into_iter().chain(self.own).collect();
            (union(&all).map(|b| wrap(Some(&head), &b)), None)
        }
    }
}

/// A second read-only transaction on the snapshot of the checks' own, on a
/// connection of its own and in the same scope, for the checks that do not
/// read the facts: they run at the same time as the others (at 1M
/// recharges the failed webhook events alone take 400 ms of health's 900).
pub struct Side<'a>(Transaction<'a>);

impl<'a> Side<'a> {
    /// None when it cannot be had: no second connection, a standby (which
    /// is not asked to export its snapshot), or one that cannot take the
    /// snapshot (said on stderr). The checks then all run on `tx`, as one
    /// statement. An error exporting it is `tx`'s, and returned.
    pub fn open(
        connection: Option<&'a mut Db>,
        tx: &mut Transaction<'_>,
        scope: &Scope,
    ) -> Result<Option<Side<'a>>> {
        let Some(connection) = connection else {
            return Ok(None);
        };
        let Some(snapshot) = db::export_snapshot(tx)? else {
            return Ok(None);
        };
        let side = connection.snapshot_of(&snapshot).and_then(|mut side| {
            scope.apply(&mut side)?;
            Ok(side)
        });
        Ok(match side {
            Ok(side) => Some(Side(side)),
            Err(error) => {
                note(format!("running every check on one connection: {error:#}"));
                None
            }
        })
    }
}

fn context(facts: &Facts) -> String {
    format!(
        "running the checks of sql/checks/ over the {} facts",
        facts.describe()
    )
}

fn outcome_of<'a>(outcomes: &'a mut [Outcome], check: &str) -> Result<&'a mut Outcome> {
    outcomes
        .iter_mut()
        .find(|o| o.check.name == check)
        .with_context(|| format!("a check answered as {check:?}, which is not its file's name"))
}

fn finding(row: &Row) -> Result<Finding> {
    Ok(Finding {
        check: row.get("check_name"),
        severity: Severity::parse(row.get("severity"))?,
        recharge_id: row.get("recharge_id"),
        user_id: row.get("user_id"),
        payment_intent_id: row.get("payment_intent_id"),
        credits: row.get("credits"),
        detail: row.get("detail"),
        fix: row.get("fix"),
    })
}

/// Streams the findings of `statement` to `each`.
fn stream(
    tx: &mut Transaction<'_>,
    statement: &str,
    context: &str,
    mut each: impl FnMut(Finding) -> Result<()>,
) -> Result<()> {
    let mut rows = tx
        .query_raw(statement, std::iter::empty::<&str>())
        .with_context(|| context.to_string())?;
    while let Some(row) = rows.next().with_context(|| context.to_string())? {
        each(finding(&row)?)?;
    }
    Ok(())
}

/// Runs every check in `tx`, whose scope settings are already applied: the
/// facts read once (V019's kept facts, or V013's computed from the tables:
/// see `kept::Facts`), then each check a branch of a UNION ALL reading them,
/// as one statement; with a `side`, the checks that do not read the facts
/// as a second statement there, at the same time. Each finding is handed to
/// `each` as its row arrives, never collected here: at a million recharges
/// there are a hundred thousand (the side's wait in a bounded channel until
/// the first statement's are all handed on).
pub fn run_all(
    tx: &mut Transaction<'_>,
    side: Option<Side<'_>>,
    facts: &Facts,
    one_subject: bool,
    mut each: impl FnMut(Finding),
) -> Result<Vec<Outcome>> {
    let (mut outcomes, branches) = planned(tx, one_subject)?;
    let (main, own) = branches.statements(facts, side.is_some(), |head, union| {
        format!("{}{union}", head.unwrap_or_default())
    });
    let context = context(facts);
    let mut handle = |finding: Finding, outcomes: &mut Vec<Outcome>| -> Result<()> {
        let outcome = outcome_of(outcomes, &finding.check)?;
        outcome.found = Some(outcome.found.unwrap_or(0) + 1);
        outcome.credits += finding.credits.unwrap_or(0);
        each(finding);
        Ok(())
    };
    std::thread::scope(|scope| {
        let (send, received) = mpsc::sync_channel::<Result<Finding>>(1024);
        if let (Some(Side(mut side)), Some(own)) = (side, own) {
            let context = context.clone();
            scope.spawn(move || {
                let streamed = stream(&mut side, &own, &context, |finding| {
                    send.send(Ok(finding))
                        .map_err(|_| anyhow::anyhow!("stopped"))
                })
                .and_then(|()| Ok(side.commit()?));
                if let Err(error) = streamed {
                    let _ = send.send(Err(error));
                }
            });
        } else {
            drop(send);
        }
        if let Some(main) = main {
            stream(tx, &main, &context, |finding| {
                handle(finding, &mut outcomes)
            })?;
        }
        for finding in received {
            handle(finding?, &mut outcomes)?;
        }
        anyhow::Ok(())
    })?;
    Ok(outcomes)
}

/// The outcomes of [`run_all`], counted on the server (sql/health/counts.sql):
/// for `health`, which needs no finding, only how many each check has. The
/// findings' details are then never formatted nor sent (at 1M recharges,
/// 108,000 rows).
pub fn count_all(
    tx: &mut Transaction<'_>,
    side: Option<Side<'_>>,
    facts: &Facts,
) -> Result<Vec<Outcome>> {
    let (mut outcomes, branches) = planned(tx, false)?;
    let (main, own) = branches.statements(facts, side.is_some(), |head, union| {
        let counts = sql::HEALTH_COUNTS.replace("{findings}", union);
        format!("{}{counts}", head.unwrap_or_default())
    });
    let context = context(facts);
    let counted = |tx: &mut Transaction<'_>, statement: &str| -> Result<Vec<Row>> {
        tx.query(statement, &[]).with_context(|| context.clone())
    };
    let (main_rows, own_rows) = std::thread::scope(|scope| {
        let own_rows = match (side, own) {
            (Some(Side(mut side)), Some(own)) => Some(scope.spawn(move || {
                let rows = counted(&mut side, &own)?;
                side.commit()?;
                anyhow::Ok(rows)
            })),
            _ => None,
        };
        let main_rows = match main {
            Some(main) => counted(tx, &main)?,
            None => Vec::new(),
        };
        let own_rows = match own_rows {
            Some(handle) => handle
                .join()
                .map_err(|_| anyhow::anyhow!("the side connection's thread panicked"))??,
            None => Vec::new(),
        };
        anyhow::Ok((main_rows, own_rows))
    })?;
    for row in main_rows.iter().chain(&own_rows) {
        let outcome = outcome_of(&mut outcomes, row.get("check_name"))?;
        outcome.found = Some(row.get::<_, i64>("found") as u64);
        outcome.credits = row.get::<_, Option<i64>>("credits").unwrap_or(0);
    }
    Ok(outcomes)
}

/// The summary of a run: one row per check (skipped, ok or found), with
/// the count and credits of its findings and the command that fixes them.
pub fn summary(outcomes: &[Outcome]) -> Section {
    let mut summary = Section::new(
        "summary",
        "Summary",
        &[
            "check", "severity", "status", "count", "credits", "fix", "title",
        ],
    );
    for outcome in outcomes {
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

    summary
}

/// The columns of a finding as `debug` lists them.
pub const FINDING_COLUMNS: &[&str] = &[
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

impl Finding {
    /// The finding in [`FINDING_COLUMNS`], with its Stripe dashboard link.
    pub fn row(self) -> Vec<Value> {
        let dashboard_url = self.payment_intent_id.as_deref().map(scope::dashboard_url);
        vec![
            self.check.into(),
            self.severity.as_str().into(),
            self.recharge_id.into(),
            self.user_id.into(),
            self.payment_intent_id.into(),
            self.credits.into(),
            self.detail.into(),
            self.fix.into(),
            dashboard_url.into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_a_title_and_a_fix_and_names_itself() {
        let checks = catalogue().unwrap();
        assert!(checks.len() >= 12);
        for check in &checks {
            assert!(!check.title.is_empty(), "{} has no title", check.name);
            assert!(!check.fix.is_empty(), "{} has no fix line", check.name);
            assert!(
                check
                    .sql
                    .contains(&format!("'{}'::text AS severity", check.severity.as_str())),
                "{} must declare its severity and return it",
                check.name
            );
            assert!(
                check
                    .sql
                    .contains(&format!("'{}'::text AS check_name", check.name)),
                "{} must return its own name as check_name",
                check.name
            );
        }
    }
}
