//! `resume-packages`' operation: end the open pause, putting back on sale
//! exactly the packages it took off sale, and leaving every other package
//! (one retired on purpose, or re-activated by hand meanwhile) as it is.

use std::collections::HashSet;

use anyhow::{Context, Result};
use postgres::{Row, Transaction};

use crate::cli::WriteOpts;
use crate::db::Db;
use crate::output::note;
use crate::sql;

use super::{Action, Change, OpenPause, Outcome, audit, open_pause};

pub const COMMAND: &str = "resume-packages";

/// The open pause and what resuming would do to each of its packages, as
/// of one snapshot.
pub fn plan(db: &mut Db) -> Result<Option<(OpenPause, Vec<Change>)>> {
    let mut tx = db.snapshot()?;
    let plan = match open_pause(&mut tx)? {
        Some(open) => {
            let items = items(&mut tx, open.id, None)?;
            Some((open, items))
        }
        None => None,
    };
    tx.commit()?;
    Ok(plan)
}

/// On stderr: the packages a person turned on or deleted during the pause.
pub fn tell_surprises(outcome: &Outcome) {
    for change in &outcome.changes {
        match change.action {
            Action::ReactivatedByHand => note(format!(
                "package {} was re-activated by hand during the pause: left as it is",
                change.id
            )),
            Action::Missing => note(format!(
                "package {} was deleted since the pause: nothing to resume",
                change.id
            )),
            _ => {}
        }
    }
}

/// On stderr before the confirmation.
pub fn tell_plan(open: &OpenPause, items: &[Change]) {
    note(format!("Plan: end {}:", open.describe()));
    for item in items {
        let verb = if item.action == Action::WouldResume {
            "resume"
        } else {
            item.action.as_str()
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
                (None, _) => Action::Missing,
                (Some(_), Some(resumed)) if resumed.contains(&id) => Action::Resumed,
                (Some(true), _) => Action::ReactivatedByHand,
                (Some(false), None) => Action::WouldResume,
                (Some(false), Some(_)) => Action::LeftInactive,
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
pub fn resume(db: &mut Db, write: &WriteOpts, pause_id: i64) -> Result<Option<Vec<Change>>> {
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
    audit(
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
