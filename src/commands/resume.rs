//! `credits resume-packages`: end the open pause, putting back on sale
//! exactly the packages it took off sale, and leaving every other package
//! (a package retired on purpose, or one re-activated by hand meanwhile)
//! as it is.

use std::collections::HashSet;

use anyhow::{Context, Result};
use postgres::{Row, Transaction};

use crate::cli::{Format, ResumePackagesArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::output::note;
use crate::packages::{self, Change, OpenPause, Outcome, PauseResult};
use crate::sql;

const COMMAND: &str = "resume-packages";
const RESUMED: &str = "resumed";
const WOULD_RESUME: &str = "would resume";
const BY_HAND: &str = "left active (re-activated by hand)";
const MISSING: &str = "missing (deleted since the pause)";

pub fn run(db: &mut Db, args: &ResumePackagesArgs, format: Format) -> Result<Code> {
    // One snapshot: the open pause and its packages as of one instant.
    let plan = {
        let mut tx = db.snapshot()?;
        let open = packages::open_pause(&mut tx)?;
        let plan = match open {
            Some(open) => {
                let items = items(&mut tx, open.id, None)?;
                Some((open, items))
            }
            None => None,
        };
        tx.commit()?;
        plan
    };
    let dry_run = args.write.dry_run;

    let outcome = match plan {
        None => {
            note("no open pause: nothing to resume; nothing changed");
            Outcome::unchanged(PauseResult::NoOpenPause, None)
        }
        Some((open, items)) if dry_run => {
            print_plan(&open, &items);
            note("dry run: nothing was written");
            Outcome {
                result: PauseResult::WouldResume,
                pause_id: Some(open.id),
                changes: items,
            }
        }
        Some((open, items)) => {
            print_plan(&open, &items);
            let count = items.iter().filter(|c| c.action == WOULD_RESUME).count();
            confirm(
                &args.write,
                &db.target,
                &format!(
                    "put {count} package(s) back on sale and close pause #{}",
                    open.id
                ),
            )?;
            match resume(db, args, open.id)? {
                Some(changes) => {
                    let resumed = changes.iter().filter(|c| c.action == RESUMED).count();
                    note(format!(
                        "resumed {resumed} package(s); pause #{} is closed",
                        open.id
                    ));
                    Outcome {
                        result: PauseResult::Resumed,
                        pause_id: Some(open.id),
                        changes,
                    }
                }
                None => {
                    note(format!(
                        "pause #{} was resumed by someone else meanwhile: nothing changed",
                        open.id
                    ));
                    Outcome::unchanged(PauseResult::NoOpenPause, None)
                }
            }
        }
    };
    for change in &outcome.changes {
        if change.action == BY_HAND {
            note(format!(
                "package {} was re-activated by hand during the pause: left as it is",
                change.id
            ));
        } else if change.action == MISSING {
            note(format!(
                "package {} was deleted since the pause: nothing to resume",
                change.id
            ));
        }
    }
    outcome.print(COMMAND, db, dry_run, format)?;
    Ok(Code::Ok)
}

fn print_plan(open: &OpenPause, items: &[Change]) {
    note(format!("Plan: end {}:", open.describe()));
    for item in items {
        let verb = if item.action == WOULD_RESUME {
            "resume"
        } else {
            item.action
        };
        note(format!(
            "  {verb}: {} ({})",
            item.id,
            item.name.as_deref().unwrap_or("")
        ));
    }
    note("Every other package is left as it is.");
}

/// The packages of pause `pause_id` and what resuming does to each: those in
/// `resumed` were just put back on sale; otherwise one still inactive would
/// be resumed, one active was re-activated by hand, one absent was deleted.
fn items(
    tx: &mut Transaction<'_>,
    pause_id: i64,
    resumed: Option<&HashSet<String>>,
) -> Result<Vec<Change>> {
    let rows = tx.query(sql::PACKAGES_ITEMS, &[&pause_id])?;
    Ok(rows
        .iter()
        .map(|row: &Row| {
            let id: String = row.get("id");
            let is_active: Option<bool> = row.get("is_active");
            let action = match (is_active, resumed) {
                (None, _) => MISSING,
                (Some(_), Some(resumed)) if resumed.contains(&id) => RESUMED,
                (Some(true), _) => BY_HAND,
                (Some(false), None) => WOULD_RESUME,
                // Inactive after the resume: cannot happen in the same
                // transaction; shown as it is rather than guessed at.
                (Some(false), Some(_)) => "left inactive",
            };
            Change {
                id,
                name: row.get("name"),
                action,
            }
        })
        .collect())
}

/// The resume, in one transaction: close pause `pause_id` (None when it is
/// no longer open), put back on sale its packages that are still inactive,
/// audit each.
fn resume(db: &mut Db, args: &ResumePackagesArgs, pause_id: i64) -> Result<Option<Vec<Change>>> {
    let write = &args.write;
    let mut tx = db.transaction()?;
    let closed = tx.query_opt(
        sql::PACKAGES_CLOSE_PAUSE,
        &[&pause_id, &write.operator, &write.reason],
    )?;
    if closed.is_none() {
        tx.rollback()?;
        return Ok(None);
    }
    let resumed: Vec<String> = tx
        .query(sql::PACKAGES_REACTIVATE, &[&pause_id])
        .context("putting the paused packages back on sale")?
        .iter()
        .map(|row| row.get("id"))
        .collect();
    packages::audit(
        &mut tx,
        write,
        COMMAND,
        "resume_package",
        pause_id,
        &resumed,
    )?;
    let changes = items(&mut tx, pause_id, Some(&resumed.into_iter().collect()))?;
    tx.commit()?;
    Ok(Some(changes))
}
