//! `credits status`: every migration as applied, pending, changed since
//! applied (checksum drift), or unknown to this binary
//! (`migrations::status`). Exits 1 on drift.

use anyhow::Result;

use crate::cli::Format;
use crate::db::Db;
use crate::exit::Code;
use crate::migrations::status::Status;

pub fn run(db: &mut Db, format: Format) -> Result<Code> {
    let mut status = Status::read(db)?;
    status.report(db.target.to_string()).print(format)?;
    Ok(status.tell())
}
