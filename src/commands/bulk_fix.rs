//! `credits bulk-fix`: the fix-user repair for every affected user, in
//! short transactions sized by time, skipping rows someone else holds
//! (see `repair::batches`).

use anyhow::Result;

use crate::cli::{BulkFixArgs, Format};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::interrupt;
use crate::output::{Report, Section, note};
use crate::repair::{self, Action, Tally, batches};
use crate::sql;

pub fn run(db: &mut Db, args: &BulkFixArgs, format: Format) -> Result<Code> {
    let since = args.since.at;
    db.profile()?.require_reversible(args.reverse_duplicates)?;
    let target = db.target.to_string();
    let (users, planned_credits) = affected_users(db, args)?;
    note(format!(
        "{} affected user(s) since {}; crediting their completed recharges grants {planned_credits} credits",
        users.len(),
        crate::output::time(&since)
    ));
    if let Some(max) = args.max_credits
        && planned_credits > max
    {
        return Err(fail(
            Code::Usage,
            format!(
                "the plan grants {planned_credits} credits, more than --max-credits {max}; nothing was written. \
                 Check `credits debug` first, narrow --since, or raise --max-credits"
            ),
        ));
    }
    if users.is_empty() {
        note("nothing to repair");
    } else if !args.write.dry_run {
        confirm(
            &args.write,
            &db.target,
            &format!("repair {} user(s) in short batches", users.len()),
        )?;
    }

    interrupt::listen();
    let audit = args.write.audit("bulk-fix");
    let stripe = stripe_verdicts(db, args, &users, &audit)?;
    let mut tally = Tally::default();
    let run = batches::run(
        db,
        &users,
        args.batches.sizing(),
        !args.write.dry_run,
        "users",
        |tx, batch| {
            repair::fix_users(
                tx,
                batch,
                &audit,
                args.reverse_duplicates,
                true,
                stripe.as_ref(),
            )
        },
        |outcomes| tally.add(&outcomes),
    )?;

    let mut summary = Section::new(
        "summary",
        if args.write.dry_run {
            "Would do (dry run: nothing was written)"
        } else {
            "Done"
        },
        &[
            "users_fixed",
            "recharges_credited",
            "credits_granted",
            "recharges_completed",
            "balances_corrected",
            "duplicates_reversed",
            "reported",
            "skipped_locked",
            "failed",
        ],
    );
    summary.push(vec![
        tally.users_changed().into(),
        tally.count(Action::Credited).into(),
        tally.credits(Action::Credited).into(),
        tally.count(Action::MarkedCompleted).into(),
        tally.count(Action::BalanceCorrected).into(),
        tally.count(Action::DuplicateReversed).into(),
        tally.reported().into(),
        run.locked.len().into(),
        run.failed.len().into(),
    ]);
    let mut left = Section::new("left_alone", "Users left alone", &["user_id", "why"]);
    for user in &run.locked {
        left.push(vec![
            user.clone().into(),
            "rows locked by another session: run again".into(),
        ]);
    }
    for (user, why) in &run.failed {
        left.push(vec![user.clone().into(), why.clone().into()]);
    }
    let mut report = Report::new("bulk-fix");
    report.field("database", target);
    report.field("since", crate::output::time(&since));
    report.field("dry_run", args.write.dry_run);
    report.field("affected_users", users.len());
    report.field("planned_credits", planned_credits);
    report.field("batches", run.batches);
    report.field("longest_batch_ms", run.longest.as_millis() as u64);
    if let Some(stripe) = &stripe {
        if let Some(mode) = stripe.mode {
            report.field("stripe_mode", mode.label());
        }
        report.field("not_paid_in_stripe", tally.count(Action::NotPaidInStripe));
    }
    report.sections = vec![summary, left];
    report.print(format)?;
    Ok(run.finish(args.write.dry_run, "user(s)"))
}

/// Asked to (`--verify-with-stripe`, `--stripe-export`), what Stripe says of
/// every recharge the repair would credit: found by a first pass of the
/// repair, rolled back batch by batch, then judged before anything is written.
fn stripe_verdicts(
    db: &mut Db,
    args: &BulkFixArgs,
    users: &[String],
    audit: &repair::Audit<'_>,
) -> Result<Option<repair::stripe::Verdicts>> {
    if !args.stripe.verify_with_stripe && args.stripe.stripe_export.is_none() {
        return Ok(None);
    }
    note("finding every recharge the repair would credit (a first pass, rolled back)");
    let mut to_credit = Vec::new();
    batches::run(
        db,
        users,
        args.batches.sizing(),
        false,
        "users",
        |tx, batch| repair::fix_users(tx, batch, audit, args.reverse_duplicates, true, None),
        |outcomes| {
            to_credit.extend(
                outcomes
                    .into_iter()
                    .filter(|o| o.action == Action::Credited),
            )
        },
    )?;
    repair::stripe::judge(&args.stripe, db, &to_credit)
}

/// The users to repair, and what crediting their completed recharges grants.
fn affected_users(db: &mut Db, args: &BulkFixArgs) -> Result<(Vec<String>, i64)> {
    let mut tx = db.snapshot()?;
    let rows = tx.query(
        sql::REPAIR_AFFECTED_USERS,
        &[&args.since.at, &args.reverse_duplicates],
    )?;
    tx.commit()?;
    let credits = rows.iter().map(|row| row.get::<_, i64>("credits")).sum();
    Ok((rows.iter().map(|row| row.get("user_id")).collect(), credits))
}
