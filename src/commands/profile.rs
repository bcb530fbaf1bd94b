//! `credits profile`: how credits maps this database's tables, and where
//! each part of the mapping came from; `--init` writes it as credits.toml.

use anyhow::Result;
use serde_json::Value;

use crate::cli::{Format, ProfileArgs};
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::{Report, Section, note};
use crate::profile;

pub fn run(db: &mut Db, args: &ProfileArgs, format: Format) -> Result<Code> {
    let config = db.config.clone();
    let mut tx = db.read_only()?;
    let profile = profile::detect(&mut tx, config.as_deref())?;
    let stored = profile::stored_checksum(&mut tx)?;
    tx.commit()?;

    if let Some(path) = &args.init {
        if path.exists() {
            return Err(fail(
                Code::Usage,
                format!("{} exists; move it away or edit it", path.display()),
            ));
        }
        std::fs::write(path, profile.init_file())?;
        note(format!(
            "wrote {}: edit it, then run `credits profile` again",
            path.display()
        ));
    }

    let mut report = Report::new("profile");
    report.field("database", db.target.to_string());
    report.field(
        "config_file",
        profile
            .config_path
            .as_ref()
            .map_or(Value::Null, |p| p.display().to_string().into()),
    );
    report.field(
        "adapter",
        match stored {
            None => "not installed: run `credits install`",
            Some(s) if s == profile.checksum => "installed, up to date",
            Some(_) => "installed for an older profile: run `credits install`",
        },
    );
    report.field("writable", profile.write_blockers.is_empty());
    let mut items = Section::new("profile", "App profile", &["item", "value", "source"]);
    for item in &profile.items {
        items.push(vec![
            item.item.clone().into(),
            item.value.clone().into(),
            serde_json::to_value(item.source)?,
        ]);
    }
    report.sections.push(items);
    let mut blockers = Section::new(
        "write_blockers",
        "What stops credits from writing this app's rows",
        &["problem"],
    );
    for problem in &profile.write_blockers {
        blockers.push(vec![problem.clone().into()]);
    }
    if !blockers.rows.is_empty() {
        report.sections.push(blockers);
    }
    report.print(format)?;
    Ok(Code::Ok)
}
