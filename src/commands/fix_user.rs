//! `credits fix-user`: repair one user, at any age (`repair::one_user`),
//! through `credits_ops.fix_users`, the function the runbook's
//! `manual_fix_user_credits` path also runs on.

use anyhow::Result;

use crate::cli::{FixUserArgs, Format};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::output::note;
use crate::repair::one_user::{Terms, UserRepair};

pub fn run(db: &mut Db, args: &FixUserArgs, format: Format) -> Result<Code> {
    db.profile()?.require_reversible(args.reverse_duplicates)?;
    let mut terms = Terms {
        audit: args.write.audit("fix-user"),
        reverse_duplicates: args.reverse_duplicates,
        stripe: None,
    };
    let plan = UserRepair::plan(db, &args.subject, &mut terms, &args.stripe)?;
    let changes = plan.changes();
    let result = if args.write.dry_run {
        note(format!(
            "dry run: {changes} change(s) would be made; nothing was written"
        ));
        plan
    } else if changes == 0 {
        note(format!("nothing to repair for user {}", plan.user_id));
        plan
    } else {
        plan.tell_plan();
        confirm(
            &args.write,
            &db.target,
            &format!("make {changes} change(s) for user {}", plan.user_id),
        )?;
        plan.apply(db, &terms)?
    };
    result
        .report(db.target.to_string(), args.write.dry_run)
        .print(format)?;
    Ok(Code::Ok)
}
