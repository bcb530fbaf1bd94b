//! `pause-packages`' operation: take every active package off sale in one
//! transaction, recording the pause and exactly which packages it turned
//! off, so a resume can turn on those and no other.

use anyhow::{Context, Result};
use postgres::Row;

use crate::cli::WriteOpts;
use crate::db::Db;
use crate::output::note;
use crate::sql;

use super::{Action, Change, OpenPause, Outcome, PauseResult, audit, open_pause};

pub const COMMAND: &str = "pause-packages";

/// The open pause and the active packages, as of one instant (one
/// snapshot), so a pause committed between the two reads cannot look like
/// "nothing active".
pub fn plan(db: &mut Db) -> Result<(Option<OpenPause>, Vec<Change>)> {
    let mut tx = db.snapshot()?;
    let open = open_pause(&mut tx)?;
    let active = tx.query(sql::PACKAGES_ACTIVE, &[])?;
    tx.commit()?;
    Ok((
        open,
        active.iter().map(change(Action::WouldPause)).collect(),
    ))
}

fn change(action: Action) -> impl Fn(&Row) -> Change {
    move |row| Change {
        id: row.get("id"),
        name: row.get("name"),
        action,
    }
}

/// On stderr before the confirmation.
pub fn tell_plan(active: &[Change]) {
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

pub fn already_paused(open: &OpenPause) -> String {
    format!(
        "already paused: {}; nothing changed. `credits packages` shows it, \
         `credits resume-packages` ends it.",
        open.describe()
    )
}

/// The pause itself, in one transaction: open the pause (the unique index
/// lets only one be open), take the active packages off sale, record them,
/// audit. A pause that would turn nothing off is rolled back.
pub fn pause(db: &mut Db, write: &WriteOpts) -> Result<Outcome> {
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
        .map(change(Action::Paused))
        .collect();
    if paused.is_empty() {
        tx.rollback()?;
        return Ok(Outcome::unchanged(PauseResult::NothingActive, None));
    }
    let ids: Vec<String> = paused.iter().map(|p| p.id.clone()).collect();
    tx.execute(sql::PACKAGES_RECORD_ITEMS, &[&pause_id, &ids])?;
    audit(&mut tx, write, COMMAND, "pause_package", pause_id, &ids)?;
    tx.commit()?;
    Ok(Outcome {
        result: PauseResult::Paused,
        pause_id: Some(pause_id),
        changes: paused,
    })
}

/// Tells the operator what happened, in particular when the database changed
/// between the plan and the pause.
pub fn tell_outcome(db: &mut Db, outcome: &mut Outcome, planned: &[Change]) -> Result<()> {
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
            let open = open_pause(&mut tx)?;
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
