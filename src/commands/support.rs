//! `credits support`: everything support needs about one user on one page
//! (`crate::support`), as a table, JSON, CSV or Markdown for a ticket.

use anyhow::Result;

use crate::cli::{Format, SupportArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::support;

pub fn run(db: &mut Db, args: &SupportArgs, format: Format) -> Result<Code> {
    let (report, user_id) = support::page(db, &args.subject, args.stuck_after)?;
    if args.markdown {
        report.print_markdown(&format!("Credits support: user {user_id}"))?;
    } else {
        report.print(format)?;
    }
    Ok(Code::Ok)
}
