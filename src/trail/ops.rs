//! The operations of `credits audit`: enable and disable (like rls-fix's
//! migration: a plan rehearsed on this database, a confirmation, one
//! transaction with its history row and audit row), prune and status, each
//! returning its report.

use anyhow::Result;
use chrono::Utc;

use crate::cli::WriteOpts;
use crate::confirm::confirm;
use crate::db::Db;
use crate::output::{Report, Section, note, time};

use super::{Recording, State};

fn read_state(db: &mut Db) -> Result<State> {
    let m = super::migration()?;
    let mut tx = db.snapshot()?;
    let state = State::read(&mut tx, &m)?;
    tx.commit()?;
    Ok(state)
}

/// `audit enable`: V014 rehearsed for the plan, confirmed, applied.
pub fn enable(db: &mut Db, write: &WriteOpts) -> Result<Report> {
    let m = super::migration()?;
    let before = read_state(db)?;
    let dry_run = write.dry_run;
    let up_to_date = before.recording() == Recording::On && before.recorded == Some(true);
    let triggers = if up_to_date {
        note(format!(
            "nothing to do: {m} is applied and all {} triggers fire",
            super::TRIGGERS
        ));
        before.triggers
    } else {
        // Rehearsed on this database, so the plan shows what it really makes.
        let planned = super::rehearse_enable(db, &m)?;
        note(format!(
            "Plan: {} {m}: {} trigger(s) on the app's tables, recording into credits_ops.balance_audit \
             (each briefly locks its table against writes, waiting at most --lock-timeout):",
            if before.recorded.is_some() {
                "re-apply"
            } else {
                "apply"
            },
            planned.len()
        ));
        for trigger in &planned {
            note(format!("  {} on {}", trigger.name, trigger.app_table));
        }
        if dry_run {
            note("dry run: nothing was written");
            planned
        } else {
            confirm(write, &db.target, "enable the balance audit trail")?;
            super::enable(db, &m, write)?
        }
    };
    let mut report = Report::new("audit enable");
    report.field("database", db.target.to_string());
    report.field("migration", m.to_string());
    report.field("dry_run", dry_run);
    report.field("changed", !up_to_date && !dry_run);
    let title = if dry_run {
        "Triggers it would make"
    } else {
        "Triggers"
    };
    report
        .sections
        .push(super::triggers_section(title, &triggers));
    Ok(report)
}

/// `audit disable`: the triggers dropped, the rows kept.
pub fn disable(db: &mut Db, write: &WriteOpts) -> Result<Report> {
    let m = super::migration()?;
    let before = read_state(db)?;
    let dry_run = write.dry_run;
    let nothing = before.triggers.is_empty() && before.recorded.is_none();
    if nothing {
        note("nothing to do: the balance audit trail is not enabled");
    } else {
        note(format!(
            "Plan: drop {} trigger(s) and forget {m} in credits_ops.schema_history; the trail's {} row(s) stay:",
            before.triggers.len(),
            before.rows.as_ref().map_or(0, |rows| rows.count)
        ));
        for trigger in &before.triggers {
            note(format!("  drop {} on {}", trigger.name, trigger.app_table));
        }
        if dry_run {
            note("dry run: nothing was written");
        } else {
            confirm(write, &db.target, "disable the balance audit trail")?;
            super::disable(db, &m, write, &before.triggers)?;
        }
    }
    let mut report = Report::new("audit disable");
    report.field("database", db.target.to_string());
    report.field("dry_run", dry_run);
    report.field("changed", !nothing && !dry_run);
    let title = if dry_run {
        "Triggers it would drop"
    } else {
        "Triggers dropped"
    };
    let dropped = if nothing {
        &[][..]
    } else {
        &before.triggers[..]
    };
    report
        .sections
        .push(super::triggers_section(title, dropped));
    Ok(report)
}

/// `audit prune`: the rows older than `older_than`, in batches.
pub fn prune(
    db: &mut Db,
    older_than: std::time::Duration,
    batch_size: i64,
    write: &WriteOpts,
) -> Result<Report> {
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than)?;
    let dry_run = write.dry_run;
    let plan = {
        let mut tx = db.snapshot()?;
        let plan = if crate::scope::relation_exists(&mut tx, "credits_ops.balance_audit")? {
            Some(super::prune_plan(&mut tx, cutoff)?)
        } else {
            None
        };
        tx.commit()?;
        plan
    };
    let deleted = match &plan {
        None => {
            note("nothing to do: the balance audit trail was never enabled (credits audit enable)");
            0
        }
        Some(plan) if plan.rows == 0 && plan.errors == 0 => {
            note(format!(
                "nothing to do: no row is older than {}",
                time(&cutoff)
            ));
            0
        }
        Some(plan) => {
            note(format!(
                "Plan: delete {} row(s) of the trail older than {} (the oldest from {}), {} at a time, \
                 and {} caught trigger error(s)",
                plan.rows,
                time(&cutoff),
                plan.oldest.as_ref().map_or("-".to_string(), time),
                batch_size,
                plan.errors
            ));
            if dry_run {
                note("dry run: nothing was written");
                0
            } else {
                confirm(write, &db.target, "prune the balance audit trail")?;
                let deleted = super::prune(db, cutoff, batch_size, write, plan)?;
                note(format!("deleted {deleted} row(s) of the trail"));
                deleted
            }
        }
    };
    let mut report = Report::new("audit prune");
    report.field("database", db.target.to_string());
    report.field("older_than", time(&cutoff));
    report.field("dry_run", dry_run);
    report.field("would_delete", plan.as_ref().map_or(0, |plan| plan.rows));
    report.field("deleted", deleted);
    Ok(report)
}

/// `audit status`: whether the trail records, and what it holds.
pub fn status(db: &mut Db) -> Result<(Report, Recording)> {
    let state = read_state(db)?;
    let mut report = Report::new("audit status");
    report.field("database", db.target.to_string());
    let rows = state.rows.as_ref();
    let mut summary = Section::new(
        "trail",
        "Balance audit trail",
        &[
            "recording",
            "migration_recorded",
            "rows",
            "oldest",
            "newest",
            "moved_without_ledger_1d",
            "trigger_errors",
            "last_trigger_error",
        ],
    );
    summary.push(vec![
        state.recording().as_str().into(),
        state.recorded.is_some().into(),
        rows.map(|r| r.count).into(),
        rows.and_then(|r| r.oldest.as_ref().map(time)).into(),
        rows.and_then(|r| r.newest.as_ref().map(time)).into(),
        rows.map(|r| r.moved_without_ledger_1d).into(),
        rows.map(|r| r.errors).into(),
        rows.and_then(|r| r.last_error.clone()).into(),
    ]);
    report.sections.push(summary);
    report
        .sections
        .push(super::triggers_section("Triggers", &state.triggers));
    Ok((report, state.recording()))
}
