//! `credits install`: apply the pending migrations, each atomically with its
//! history row, serialised by an advisory lock (`migrations::install`).

use anyhow::Result;

use crate::cli::{Format, InstallArgs};
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::migrations::install::Install;

pub fn run(db: &mut Db, args: &InstallArgs, format: Format) -> Result<Code> {
    let mut install = Install::read(db, args.write.dry_run)?;
    install.rebuild_adapter(db, &args.write)?;
    let failed = install.rehearse(db)?;
    if args.write.dry_run {
        install.tell_kept_facts(db)?;
    } else {
        install.apply(db, &args.write)?;
    }
    install.report(db.target.to_string()).print(format)?;
    if let Some(failed) = failed {
        return Err(fail(
            Code::Contract,
            format!(
                "{failed}. Nothing was written; see `credits profile` for how this app was mapped."
            ),
        ));
    }
    install.tell_blocked();
    Ok(Code::Ok)
}
