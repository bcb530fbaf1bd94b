//! The schema contract of `credits-domain.md`: the app must hold every role
//! the tool reads and writes, in whatever names and types (see `profile`),
//! and still be the app `credits install` built the adapter for. Checked
//! before anything touches the app tables.

use anyhow::Result;

use crate::cli::GlobalOpts;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::migrations;
use crate::profile::{self, Profile};
use crate::replica;

/// What a command needs of the database before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A connection (install, status, profile).
    Connection,
    /// The app mapped and credits installed for it, unchanged.
    Installed,
    /// As `Installed`, for a command that only reads: on the replica when
    /// --read-url is given (see `replica`).
    Reads,
}

/// The one preflight: connects, and for [`Need::Installed`] checks the
/// contract (the app profile, kept in the connection) and the install.
/// Fails with exit 4 naming what is missing; reads only.
pub fn open(opts: &GlobalOpts, need: Need) -> Result<Db> {
    let mut db = match (&opts.read_url, need) {
        (Some(url), Need::Reads) => replica::open(opts, url)?,
        _ => Db::connect(opts)?,
    };
    if need != Need::Connection {
        let profile = check(&mut db)?;
        let mut tx = db.read_only()?;
        migrations::require_installed(&mut tx)?;
        tx.commit()?;
        db.profile = Some(profile);
    }
    Ok(db)
}

/// Detects the app profile; fails with exit 4, naming what cannot be mapped,
/// or when the app (or the mapping file) changed since the adapter was built.
/// Reads only.
pub fn check(db: &mut Db) -> Result<Profile> {
    let config = db.config.clone();
    let mut tx = db.read_only()?;
    let profile = profile::detect(&mut tx, config.as_deref())?;
    let stored = profile::stored_checksum(&mut tx)?;
    tx.commit()?;
    if let Some(stored) = stored
        && stored != profile.checksum
    {
        return Err(fail(
            Code::Contract,
            format!(
                "the app's credits tables (or the mapping file) changed since `credits install` built \
                 its adapter for {}; nothing was written. Run `credits profile` to see the mapping, \
                 then `credits install --dry-run` and `credits install` to bring the adapter up to date.",
                db.target
            ),
        ));
    }
    Ok(profile)
}
