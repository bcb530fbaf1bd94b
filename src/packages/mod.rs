//! Stopping and resuming sales: what `pause-packages`, `resume-packages`
//! and `packages` share (the open pause, the audit rows, the report of a
//! change), and the two operations (`pause`, `resume`).

pub mod pause;
pub mod resume;

use anyhow::Result;
use chrono::{DateTime, Utc};
use postgres::Transaction;
use serde_json::{Value, json};

use crate::cli::{Format, WriteOpts};
use crate::db::Db;
use crate::output::{Report, Section};
use crate::sql;

/// The open pause: sales were paused and not resumed yet.
pub struct OpenPause {
    pub id: i64,
    pub paused_at: DateTime<Utc>,
    pub paused_by: String,
    pub reason: Option<String>,
    pub package_count: i64,
}

impl OpenPause {
    /// "pause #3 by alice at 2026-11-20T10:00:00+00:00, reason: INC-42, 3 package(s)"
    pub fn describe(&self) -> String {
        format!(
            "pause #{} by {} at {}, reason: {}, {} package(s)",
            self.id,
            self.paused_by,
            crate::output::time(&self.paused_at),
            self.reason.as_deref().unwrap_or("(none given)"),
            self.package_count
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "pause_id": self.id,
            "paused_at": crate::output::time(&self.paused_at),
            "paused_by": self.paused_by,
            "reason": self.reason,
            "package_count": self.package_count,
        })
    }
}

/// The open pause, if any.
pub fn open_pause(tx: &mut Transaction<'_>) -> Result<Option<OpenPause>> {
    let row = tx.query_opt(sql::PACKAGES_OPEN_PAUSE, &[])?;
    Ok(row.map(|row| OpenPause {
        id: row.get("id"),
        paused_at: row.get("paused_at"),
        paused_by: row.get("paused_by"),
        reason: row.get("reason"),
        package_count: row.get("package_count"),
    }))
}

/// One package a pause or resume acts on, and what it did (or would do).
pub struct Change {
    pub id: String,
    pub name: Option<String>,
    pub action: Action,
}

/// What a pause or a resume did (or would do) to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    WouldPause,
    Paused,
    WouldResume,
    Resumed,
    /// Active again before the resume: someone turned it on by hand.
    ReactivatedByHand,
    /// Gone since the pause.
    Missing,
    /// Still off after the resume: cannot happen in its transaction; shown
    /// as it is rather than guessed at.
    LeftInactive,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::WouldPause => "would pause",
            Action::Paused => "paused",
            Action::WouldResume => "would resume",
            Action::Resumed => "resumed",
            Action::ReactivatedByHand => "left active (re-activated by hand)",
            Action::Missing => "missing (deleted since the pause)",
            Action::LeftInactive => "left inactive",
        }
    }
}

/// What a pause or a resume came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseResult {
    Paused,
    WouldPause,
    AlreadyPaused,
    NothingActive,
    Resumed,
    WouldResume,
    NoOpenPause,
}

impl PauseResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseResult::Paused => "paused",
            PauseResult::WouldPause => "would pause",
            PauseResult::AlreadyPaused => "already paused",
            PauseResult::NothingActive => "nothing active",
            PauseResult::Resumed => "resumed",
            PauseResult::WouldResume => "would resume",
            PauseResult::NoOpenPause => "no open pause",
        }
    }
}

pub struct Outcome {
    pub result: PauseResult,
    pub pause_id: Option<i64>,
    pub changes: Vec<Change>,
}

impl Outcome {
    pub fn unchanged(result: PauseResult, pause_id: Option<i64>) -> Outcome {
        Outcome {
            result,
            pause_id,
            changes: Vec::new(),
        }
    }

    pub fn print(
        &self,
        command: &'static str,
        db: &Db,
        dry_run: bool,
        format: Format,
    ) -> Result<()> {
        let mut section = Section::new(
            "packages",
            match self.pause_id {
                Some(id) => format!("Packages ({}, pause #{id})", self.result.as_str()),
                None => format!("Packages ({})", self.result.as_str()),
            },
            &["id", "name", "action"],
        );
        for change in &self.changes {
            section.push(vec![
                change.id.clone().into(),
                change.name.clone().into(),
                change.action.as_str().into(),
            ]);
        }
        let mut report = Report::new(command);
        report.field("database", db.target.to_string());
        report.field("dry_run", dry_run);
        report.field("result", self.result.as_str());
        report.field("pause_id", self.pause_id);
        report.sections.push(section);
        report.print(format)
    }
}

/// Writes one audit row per package changed by `command` (`action` is
/// `pause_package` or `resume_package`).
pub fn audit(
    tx: &mut Transaction<'_>,
    write: &WriteOpts,
    command: &str,
    action: &str,
    pause_id: i64,
    package_ids: &[String],
) -> Result<()> {
    tx.execute(
        sql::PACKAGES_AUDIT,
        &[
            &write.operator,
            &write.reason,
            &command,
            &action,
            &pause_id,
            &package_ids,
        ],
    )?;
    Ok(())
}
