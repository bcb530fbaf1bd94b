//! `credits resume-packages`: end the open pause, putting back on sale
//! exactly the packages it took off sale (`packages::resume`), and leaving
//! every other package as it is.

use anyhow::Result;

use crate::cli::{Format, ResumePackagesArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::output::note;
use crate::packages::resume::{self, COMMAND};
use crate::packages::{Action, Outcome, PauseResult};

pub fn run(db: &mut Db, args: &ResumePackagesArgs, format: Format) -> Result<Code> {
    let dry_run = args.write.dry_run;
    let outcome = match resume::plan(db)? {
        None => {
            note("no open pause: nothing to resume; nothing changed");
            Outcome::unchanged(PauseResult::NoOpenPause, None)
        }
        Some((open, items)) if dry_run => {
            resume::tell_plan(&open, &items);
            note("dry run: nothing was written");
            Outcome {
                result: PauseResult::WouldResume,
                pause_id: Some(open.id),
                changes: items,
            }
        }
        Some((open, items)) => {
            resume::tell_plan(&open, &items);
            let count = items
                .iter()
                .filter(|c| c.action == Action::WouldResume)
                .count();
            confirm(
                &args.write,
                &db.target,
                &format!(
                    "put {count} package(s) back on sale and close pause #{}",
                    open.id
                ),
            )?;
            match resume::resume(db, &args.write, open.id)? {
                Some(changes) => {
                    let resumed = changes
                        .iter()
                        .filter(|c| c.action == Action::Resumed)
                        .count();
                    note(format!(
                        "resumed {resumed} package(s); pause #{} is closed",
                        open.id
                    ));
                    Outcome {
                        result: PauseResult::Resumed,
                        pause_id: Some(open.id),
                        changes,
                    }
                }
                None => {
                    note(format!(
                        "pause #{} was resumed by someone else meanwhile: nothing changed",
                        open.id
                    ));
                    Outcome::unchanged(PauseResult::NoOpenPause, None)
                }
            }
        }
    };
    resume::tell_surprises(&outcome);
    outcome.print(COMMAND, db, dry_run, format)?;
    Ok(Code::Ok)
}
