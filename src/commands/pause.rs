//! `credits pause-packages`: stop sales during an incident by taking every
//! active package off sale, recording the pause and exactly which packages
//! it turned off, so `credits resume-packages` can turn on those and no other.

use anyhow::{Context, Result};
use postgres::Row;

use crate::cli::{Format, PausePackagesArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::output::note;
use crate::packages::{self, Change, Outcome, PauseResult};
use crate::sql;

const COMMAND: &str = "pause-packages";

pub fn run(db: &mut Db, args: &PausePackagesArgs, format: Format) -> Result<Code> {
    // One snapshot: the open pause and the active packages as of one instant,
    // so a pause committed between the two reads cannot look like "nothing active".
    let (open, active) = {
        let mut tx = db.snapshot()?;
        let open = packages::open_pause(&mut tx)?;
        let active = tx.query(sql::PACKAGES_ACTIVE, &[])?;
        tx.commit()?;
        (
            open,
            active.iter().map(change("would pause")).collect::<Vec<_>>(),
        )
    };
    let dry_run = args.write.dry_run;

    let outcome = if let Some(open) = open {
        note(already_paused(&open));
        Outcome::unchanged(PauseResult::AlreadyPaused, Some(open.id))
    } else if active.is_empty() {
        note("no package is active: nothing to pause; nothing changed");
        Outcome::unchanged(PauseResult::NothingActive, None)
    } else if dry_run {
        print_plan(&active);
        note("dry run: nothing was written");
        Outcome {
            result: PauseResult::WouldPause,
            pause_id: None,
            changes: active,
        }
    } else {
        print_plan(&active);
        confirm(
            &args.write,
            &db.target,
            &format!("take {} package(s) off sale", active.len()),
        )?;
        let mut outcome = pause(db, args)?;
        report_outcome(db, &mut outcome, &active)?;
        outcome
    };
    outcome.print(COMMAND, db, dry_run, format)?;
    Ok(Code::Ok)
}

fn change(action: &'static str) -> impl Fn(&Row) -> Change {
    move |row| Change {
        id: row.get("id"),
        name: row.get("name"),
        action,
    }
}

fn print_plan(active: &[Change]) {
    note(format!(
        "Plan: take {} active package(s) off sale and record them, so \
         `credits resume-packages` turns on exactly these again:",
        active.len()
    ));
    for package in active {
        note(format!(
            "  pause {} ({})",
            package.id,
            package.name.as_deref().unwrap_or("")
        ));
    }
}

fn already_paused(open: &packages::OpenPause) -> String {
    format!(
        "already paused: {}; nothing changed. `credits packages` shows it, \
         `credits resume-packages` ends it.",
        open.describe()
    )
}

/// The pause itself, in one transaction: open the pause (the unique index
/// lets only one be open), take the active packages off sale, record them,
/// audit. A pause that would turn nothing off is rolled back.
fn pause(db: &mut Db, args: &PausePackagesArgs) -> Result<Outcome> {
    let write = &args.write;
    let mut tx = db.transaction()?;
    let Some(row) = tx.query_opt(sql::PACKAGES_START_PAUSE, &[&write.operator, &write.reason])?
    else {
        tx.rollback()?;
        return Ok(Outcome::unchanged(PauseResult::AlreadyPaused, None));
    };
    let pause_id: i64 = row.get("id");
    let paused: Vec<Change> = tx
        .query(sql::PACKAGES_DEACTIVATE, &[])
        .context("taking the active packages off sale")?
        .iter()
        .map(change("paused"))
        .collect();
    if paused.is_empty() {
        tx.rollback()?;
        return Ok(Outcome::unchanged(PauseResult::NothingActive, None));
    }
    let ids: Vec<String> = paused.iter().map(|p| p.id.clone()).collect();
    tx.execute(sql::PACKAGES_RECORD_ITEMS, &[&pause_id, &ids])?;
    packages::audit(&mut tx, write, COMMAND, "pause_package", pause_id, &ids)?;
    tx.commit()?;
    Ok(Outcome {
        result: PauseResult::Paused,
        pause_id: Some(pause_id),
        changes: paused,
    })
}

/// Tells the operator what happened, in particular when the database changed
/// between the plan and the pause.
fn report_outcome(db: &mut Db, outcome: &mut Outcome, planned: &[Change]) -> Result<()> {
    match outcome.result {
        PauseResult::Paused => {
            let mut done: Vec<&str> = outcome.changes.iter().map(|c| c.id.as_str()).collect();
            let mut plan: Vec<&str> = planned.iter().map(|c| c.id.as_str()).collect();
            done.sort_unstable();
            plan.sort_unstable();
            if done != plan {
                note(
                    "the active packages changed since the plan: paused those active at the moment of the pause (listed)",
                );
            }
            note(format!(
                "paused {} package(s) (pause #{}); `credits resume-packages` turns on exactly these again",
                outcome.changes.len(),
                outcome.pause_id.unwrap_or_default()
            ));
        }
        PauseResult::AlreadyPaused => {
            // Another pause was opened between the plan and this one.
            let mut tx = db.read_only()?;
            let open = packages::open_pause(&mut tx)?;
            tx.commit()?;
            match open {
                Some(open) => {
                    note(already_paused(&open));
                    outcome.pause_id = Some(open.id);
                }
                None => note("already paused by a concurrent run; nothing changed"),
            }
        }
        _ => note("no package is active any more: nothing to pause; nothing changed"),
    }
    Ok(())
}
