//! `credits audit enable|disable|prune|status`: the balance audit trail
//! (`trail`, `trail::ops`).

use anyhow::Result;

use crate::cli::{AuditCommand, Format};
use crate::db::Db;
use crate::exit::Code;
use crate::output::note;
use crate::trail::{Recording, ops};

pub fn run(db: &mut Db, command: &AuditCommand, format: Format) -> Result<Code> {
    let report = match command {
        AuditCommand::Enable(args) => ops::enable(db, &args.write)?,
        AuditCommand::Disable(args) => ops::disable(db, &args.write)?,
        AuditCommand::Prune(args) => ops::prune(db, args.older_than, args.batch_size, &args.write)?,
        AuditCommand::Status => {
            let (report, recording) = ops::status(db)?;
            report.print(format)?;
            match recording {
                Recording::On => {}
                Recording::Partly => note(
                    "some triggers are missing, disabled or stale: writes to those tables go \
                     unrecorded; `credits audit enable` makes them anew",
                ),
                Recording::Off => note(
                    "the trail is off: `credits audit enable --dry-run` shows what it installs",
                ),
            }
            return Ok(Code::Ok);
        }
    };
    report.print(format)?;
    Ok(Code::Ok)
}
