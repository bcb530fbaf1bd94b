//! `credits audit enable|disable|prune|status`: the balance audit trail
//! (`crate::trail`), switched on and off like `rls-fix`'s migration: a plan
//! rehearsed on this database, a confirmation, one transaction with its
//! history row and audit row.

use anyhow::Result;
use chrono::Utc;

use crate::cli::{AuditCommand, AuditPruneArgs, AuditWriteArgs, Format};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, note, time};
use crate::trail::{self, Recording, State};

pub fn run(db: &mut Db, command: &AuditCommand, format: Format) -> Result<Code> {
    match command {
        AuditCommand::Enable(args) => enable(db, args, format),
        AuditCommand::Disable(args) => disable(db, args, format),
        AuditCommand::Prune(args) => prune(db, args, format),
        AuditCommand::Status => status(db, format),
    }
}

fn read_state(db: &mut Db) -> Result<State> {
    let m = trail::migration()?;
    let mut tx = db.snapshot()?;
    let state = State::read(&mut tx, &m)?;
    tx.commit()?;
    Ok(state)
}

fn enable(db: &mut Db, args: &AuditWriteArgs, format: Format) -> Result<Code> {
    let m = trail::migration()?;
    let before = read_state(db)?;
    let dry_run = args.write.dry_run;
    let up_to_date = before.recording() == Recording::On && before.recorded == Some(true);
    let triggers = if up_to_date {
        note(format!(
            "nothing to do: {m} is applied and all {} triggers fire",
            trail::TRIGGERS
        ));
        before.triggers
    } else {
        // Rehearsed on this database, so the plan shows what it really makes.
        let planned = trail::rehearse_enable(db, &m)?;
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
            confirm(&args.write, &db.target, "enable the balance audit trail")?;
            trail::enable(db, &m, &args.write)?
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
        .push(trail::triggers_section(title, &triggers));
    report.print(format)?;
    Ok(Code::Ok)
}

fn disable(db: &mut Db, args: &AuditWriteArgs, format: Format) -> Result<Code> {
    let m = trail::migration()?;
    let before = read_state(db)?;
    let dry_run = args.write.dry_run;
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
            confirm(&args.write, &db.target, "disable the balance audit trail")?;
            trail::disable(db, &m, &args.write, &before.triggers)?;
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
        .push(trail::triggers_section(title, dropped));
    report.print(format)?;
    Ok(Code::Ok)
}

fn prune(db: &mut Db, args: &AuditPruneArgs, format: Format) -> Result<Code> {
    let cutoff = Utc::now() - chrono::Duration::from_std(args.older_than)?;
    let dry_run = args.write.dry_run;
    let plan = {
        let mut tx = db.snapshot()?;
        let plan = if crate::scope::relation_exists(&mut tx, "credits_ops.balance_audit")? {
            Some(trail::prune_plan(&mut tx, cutoff)?)
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
                args.batch_size,
                plan.errors
            ));
            if dry_run {
                note("dry run: nothing was written");
                0
            } else {
                confirm(&args.write, &db.target, "prune the balance audit trail")?;
                let deleted = trail::prune(db, cutoff, args.batch_size, &args.write, plan)?;
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
    report.print(format)?;
    Ok(Code::Ok)
}

fn status(db: &mut Db, format: Format) -> Result<Code> {
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
        .push(trail::triggers_section("Triggers", &state.triggers));
    report.print(format)?;
    match state.recording() {
        Recording::On => {}
        Recording::Partly => note(
            "some triggers are missing or disabled: writes to those tables go unrecorded; \
             `credits audit enable` makes them anew",
        ),
        Recording::Off => {
            note("the trail is off: `credits audit enable --dry-run` shows what it installs")
        }
    }
    Ok(Code::Ok)
}
