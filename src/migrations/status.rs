//! `credits status`'s reading of the history: every migration as applied,
//! pending, optional, changed since applied (checksum drift), or unknown to
//! this binary, and the on-demand ones apart.

use anyhow::Result;
use serde_json::Value;

use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, note};

use super::Applied;

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

/// The command that applies an on-demand migration (the applied files
/// cannot carry it in a header: their checksums are recorded).
fn on_demand_command(name: &str) -> &'static str {
    match name {
        "rls_least_privilege" => "credits rls-fix",
        "balance_audit" => "credits audit enable",
        _ => "its command",
    }
}

pub struct Status {
    migrations: Section,
    on_demand: Section,
    pending: u64,
    optional: u64,
    drift: u64,
}

impl Status {
    pub fn read(db: &mut Db) -> Result<Status> {
        let embedded = super::embedded()?;
        let on_demand = super::on_demand()?;
        let applied = {
            let mut tx = db.read_only()?;
            let applied = super::history(&mut tx)?;
            tx.commit()?;
            applied
        };
        let mut status = Status {
            migrations: Section::new("migrations", "Migrations", COLUMNS),
            on_demand: Section::new("on_demand", "Applied on demand", COLUMNS),
            pending: 0,
            optional: 0,
            drift: 0,
        };
        let mut versions: Vec<i32> = embedded
            .iter()
            .map(|m| m.version)
            .chain(applied.iter().map(|a| a.version))
            .filter(|version| !on_demand.iter().any(|m| m.version == *version))
            .collect();
        versions.sort();
        versions.dedup();
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
                State::Pending => status.pending += 1,
                State::Optional => status.optional += 1,
                State::Changed => status.drift += 1,
                State::Applied | State::Unknown => {}
            }
            status
                .migrations
                .push(row(version, name, state.as_str().to_string(), theirs));
        }
        // Listed apart, never counted as pending.
        for m in &on_demand {
            let theirs = applied.iter().find(|a| a.version == m.version);
            let state = match theirs {
                None => format!("not applied (run {})", on_demand_command(&m.name)),
                Some(a) if a.checksum == m.checksum => "applied".to_string(),
                Some(_) => {
                    status.drift += 1;
                    "changed since applied".to_string()
                }
            };
            status
                .on_demand
                .push(row(m.version, m.name.clone(), state, theirs));
        }
        Ok(status)
    }

    /// The report; the status keeps its counts for [`Status::tell`].
    pub fn report(&mut self, database: String) -> Report {
        let mut report = Report::new("status");
        report.field("database", database);
        report.field("pending", self.pending);
        report.field("optional_not_applied", self.optional);
        report.field("drift", self.drift);
        let empty = |s: &Section| Section::new(s.name, s.title.clone(), &s.columns);
        let fresh = empty(&self.migrations);
        let migrations = std::mem::replace(&mut self.migrations, fresh);
        let fresh = empty(&self.on_demand);
        let on_demand = std::mem::replace(&mut self.on_demand, fresh);
        report.sections.extend([migrations, on_demand]);
        report
    }

    /// On stderr, what to do; exit 1 on drift.
    pub fn tell(&self) -> Code {
        if self.drift > 0 {
            note(format!(
                "{} applied migration(s) changed since they were applied: the database may not \
                 have what this binary expects. Restore the original file, or write a new migration \
                 for the change.",
                self.drift
            ));
            return Code::ProblemsFound;
        }
        if self.pending > 0 {
            note(format!(
                "{} migration(s) pending: run `credits install`",
                self.pending
            ));
        }
        if self.optional > 0 {
            note(format!(
                "{} optional migration(s) not applied: every command works without them. \
                 `credits install` applies each once its precondition holds, and says what blocks it.",
                self.optional
            ));
        }
        Code::Ok
    }
}

const COLUMNS: &[&str] = &["version", "name", "state", "applied_at", "applied_by"];

fn row(version: i32, name: String, state: String, theirs: Option<&Applied>) -> Vec<Value> {
    vec![
        Value::from(version),
        name.into(),
        state.into(),
        theirs.map_or(Value::Null, |a| crate::output::time(&a.applied_at).into()),
        theirs.map_or(Value::Null, |a| a.applied_by.clone().into()),
    ]
}
