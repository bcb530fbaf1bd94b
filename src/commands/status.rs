//! `credits status`: every migration as applied, pending, changed since
//! applied (checksum drift), or unknown to this binary.

use anyhow::Result;
use serde_json::Value;

use crate::cli::Format;
use crate::db::Db;
use crate::exit::Code;
use crate::migrations;
use crate::output::{Report, Section, note};

pub fn run(db: &mut Db, format: Format) -> Result<Code> {
    let embedded = migrations::embedded()?;
    let applied = {
        let mut tx = db.read_only()?;
        let applied = migrations::history(&mut tx)?;
        tx.commit()?;
        applied
    };

    let on_demand_versions: Vec<i32> = migrations::on_demand()?.iter().map(|m| m.version).collect();
    let mut versions: Vec<i32> = embedded
        .iter()
        .map(|m| m.version)
        .chain(applied.iter().map(|a| a.version))
        .filter(|version| !on_demand_versions.contains(version))
        .collect();
    versions.sort();
    versions.dedup();

    let mut section = Section::new(
        "migrations",
        "Migrations",
        &["version", "name", "state", "applied_at", "applied_by"],
    );
    let (mut drift, mut pending, mut optional) = (0, 0, 0);
    for version in versions {
        let ours = embedded.iter().find(|m| m.version == version);
        let theirs = applied.iter().find(|a| a.version == version);
        let (name, state) = match (ours, theirs) {
            (Some(m), None) if m.optional => (m.name.clone(), State::Optional),
            (Some(m), None) => (m.name.clone(), State::Pending),
            (Some(m), Some(a)) if a.checksum == m.checksum => (m.name.clone(), State::Applied),
            (Some(m), Some(_)) => (m.name.clone(), State::Changed),
            (None, Some(a)) => (a.name.clone(), State::Unknown),
            (None, None) => unreachable!("version {version} came from one of the two lists"),
        };
        match state {
            State::Pending => pending += 1,
            State::Optional => optional += 1,
            State::Changed => drift += 1,
            State::Applied | State::Unknown => {}
        }
        section.push(vec![
            Value::from(version),
            name.into(),
            state.as_str().into(),
            theirs.map_or(Value::Null, |a| crate::output::time(&a.applied_at).into()),
            theirs.map_or(Value::Null, |a| a.applied_by.clone().into()),
        ]);
    }

    // Migrations a command applies on demand (V010: `credits rls-fix`):
    // listed apart, never counted as pending.
    let mut on_demand = Section::new(
        "on_demand",
        "Applied on demand",
        &["version", "name", "state", "applied_at", "applied_by"],
    );
    for m in migrations::on_demand()? {
        let theirs = applied.iter().find(|a| a.version == m.version);
        let state = match theirs {
            None => format!("not applied (run {})", on_demand_command(&m.name)),
            Some(a) if a.checksum == m.checksum => "applied".to_string(),
            Some(_) => {
                drift += 1;
                "changed since applied".to_string()
            }
        };
        on_demand.push(vec![
            Value::from(m.version),
            m.name.clone().into(),
            state.into(),
            theirs.map_or(Value::Null, |a| crate::output::time(&a.applied_at).into()),
            theirs.map_or(Value::Null, |a| a.applied_by.clone().into()),
        ]);
    }

    let mut report = Report::new("status");
    report.field("database", db.target.to_string());
    report.field("pending", pending);
    report.field("optional_not_applied", optional);
    report.field("drift", drift);
    report.sections.push(section);
    report.sections.push(on_demand);
    report.print(format)?;

    if drift > 0 {
        note(format!(
            "{drift} applied migration(s) changed since they were applied: the database may not \
             have what this binary expects. Restore the original file, or write a new migration \
             for the change."
        ));
        return Ok(Code::ProblemsFound);
    }
    if pending > 0 {
        note(format!(
            "{pending} migration(s) pending: run `credits install`"
        ));
    }
    if optional > 0 {
        note(format!(
            "{optional} optional migration(s) not applied: every command works without them. \
             `credits install` applies each once its precondition holds, and says what blocks it."
        ));
    }
    Ok(Code::Ok)
}

/// A migration's state in this database.
#[derive(Clone, Copy)]
enum State {
    Applied,
    Pending,
    /// Not applied and optional (V009: blocked while duplicates remain).
    Optional,
    Changed,
    Unknown,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Optional => "optional, not applied",
            State::Changed => "changed since applied",
            State::Unknown => "unknown to this binary",
        }
    }
}

/// The command that applies an on-demand migration.
fn on_demand_command(name: &str) -> &'static str {
    match name {
        "rls_least_privilege" => "credits rls-fix",
        _ => "its command",
    }
}
