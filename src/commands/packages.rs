//! `credits packages`: every credit package with its state and the open
//! pause, if any.

use anyhow::Result;

use serde_json::Value;

use crate::cli::Format;
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section};
use crate::packages::{OpenPause, open_pause};
use crate::sql;

pub fn run(db: &mut Db, format: Format) -> Result<Code> {
    let mut tx = db.snapshot()?;
    let open = open_pause(&mut tx)?;
    let rows = tx.query(sql::PACKAGES_LIST, &[])?;
    tx.commit()?;

    let title = match &open {
        Some(pause) => format!("Packages: sales PAUSED ({})", pause.describe()),
        None => "Packages (no open pause)".to_string(),
    };
    let mut section = Section::new(
        "packages",
        title,
        &[
            "id",
            "name",
            "credits",
            "is_active",
            "paused_by_credits",
            "state",
        ],
    );
    for row in &rows {
        let is_active: Option<bool> = row.get("is_active");
        let in_open_pause = row.get::<_, Option<i64>>("open_pause_id").is_some();
        let (paused_by_credits, state) = match (in_open_pause, is_active) {
            (true, Some(false)) => (true, "paused (resume-packages turns it on)"),
            (true, _) => (false, "active (re-activated by hand during the pause)"),
            (false, Some(true)) => (false, "active"),
            (false, _) if open.is_some() => (false, "inactive (not paused by credits; stays off)"),
            (false, _) => (false, "inactive"),
        };
        section.push(vec![
            row.get::<_, String>("id").into(),
            row.get::<_, Option<String>>("name").into(),
            row.get::<_, Option<i64>>("credits").into(),
            is_active.into(),
            paused_by_credits.into(),
            state.into(),
        ]);
    }

    let mut report = Report::new("packages");
    report.field(
        "open_pause",
        open.as_ref().map_or(Value::Null, OpenPause::to_json),
    );
    report.sections.push(section);
    report.print(format)?;
    Ok(Code::Ok)
}
