//! `credits bulk-fix`: the fix-user repair for every affected user, in
//! short transactions sized by time, skipping rows someone else holds
//! (`repair::bulk`, `repair::batches`).

use anyhow::Result;

use crate::cli::{BulkFixArgs, Format};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::interrupt;
use crate::output::note;
use crate::repair::batches::Sizing;
use crate::repair::bulk::{self, Affected, Terms};

pub fn run(db: &mut Db, args: &BulkFixArgs, format: Format) -> Result<Code> {
    db.profile()?.require_reversible(args.reverse_duplicates)?;
    let affected = Affected::read(
        db,
        args.since.at,
        args.reverse_duplicates,
        !args.write.dry_run && !args.facts.rescan,
        args.facts.rescan,
        // A page of the plan is a range of kept recharge facts, any number.
        Sizing {
            max_items: usize::MAX,
            ..args.batches.sizing()
        },
    )?;
    let planned = affected.planned_credits;
    note(format!(
        "{} affected user(s) since {}; crediting their completed recharges grants {planned} credits",
        affected.len(),
        crate::output::time(&affected.since)
    ));
    if let Some(max) = args.max_credits
        && planned > max
    {
        return Err(fail(
            Code::Usage,
            format!(
                "the plan grants {planned} credits, more than --max-credits {max}; nothing was written. \
                 Check `credits debug` first, narrow --since, or raise --max-credits"
            ),
        ));
    }
    if affected.is_empty() {
        note("nothing to repair");
    } else if !args.write.dry_run {
        confirm(
            &args.write,
            &db.target,
            &format!("repair {} user(s) in short batches", affected.len()),
        )?;
    }
    interrupt::listen();
    let terms = Terms {
        audit: args.write.audit("bulk-fix"),
        reverse_duplicates: args.reverse_duplicates,
        sizing: Sizing {
            jobs: args.jobs as usize,
            ..args.batches.sizing()
        },
        commit: !args.write.dry_run,
    };
    let done = bulk::repair(db, &affected, &terms, &args.stripe)?;
    done.report(db.target.to_string(), &affected, args.write.dry_run)
        .print(format)?;
    Ok(done.run.finish(args.write.dry_run, "user(s)"))
}
