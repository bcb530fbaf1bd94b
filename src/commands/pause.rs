//! `credits pause-packages`: stop sales during an incident by taking every
//! active package off sale, recording which (`packages::pause`), so
//! `credits resume-packages` can turn on those and no other.

use anyhow::Result;

use crate::cli::{Format, PausePackagesArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::output::note;
use crate::packages::pause::{self, COMMAND};
use crate::packages::{Outcome, PauseResult};

pub fn run(db: &mut Db, args: &PausePackagesArgs, format: Format) -> Result<Code> {
    let (open, active) = pause::plan(db)?;
    let dry_run = args.write.dry_run;
    let outcome = if let Some(open) = open {
        note(pause::already_paused(&open));
        Outcome::unchanged(PauseResult::AlreadyPaused, Some(open.id))
    } else if active.is_empty() {
        note("no package is active: nothing to pause; nothing changed");
        Outcome::unchanged(PauseResult::NothingActive, None)
    } else if dry_run {
        pause::tell_plan(&active);
        note("dry run: nothing was written");
        Outcome {
            result: PauseResult::WouldPause,
            pause_id: None,
            changes: active,
        }
    } else {
        pause::tell_plan(&active);
        confirm(
            &args.write,
            &db.target,
            &format!("take {} package(s) off sale", active.len()),
        )?;
        let mut outcome = pause::pause(db, &args.write)?;
        pause::tell_outcome(db, &mut outcome, &active)?;
        outcome
    };
    outcome.print(COMMAND, db, dry_run, format)?;
    Ok(Code::Ok)
}
