//! `credits bulk-fix`: the fix-user repair for every affected user, in
//! batches of short transactions, skipping rows someone else holds.
//!
//! Each batch commits on its own, so an interrupted run (Ctrl-C, kill -9, a
//! lost connection) keeps what it committed and loses nothing else; the
//! repair is idempotent, so a rerun finishes the job and doubles nothing.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{BulkFixArgs, Format};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::interrupt;
use crate::output::{Report, Section, note};
use crate::repair::Action;
use crate::sql;

/// What the run did (or, in a dry run, would do), counted from fix_user's rows.
#[derive(Default)]
struct Totals {
    users_fixed: u64,
    recharges_credited: u64,
    credits_granted: i64,
    recharges_completed: u64,
    balances_corrected: u64,
    duplicates_reversed: u64,
    reported: u64,
}

pub fn run(db: &mut Db, args: &BulkFixArgs, format: Format) -> Result<Code> {
    let since = args.since.at;
    db.profile()?.require_reversible(args.reverse_duplicates)?;
    let target = db.target.to_string();
    let affected: Vec<(String, i64)> = {
        let mut tx = db.snapshot()?;
        let rows = tx.query(
            sql::REPAIR_AFFECTED_USERS,
            &[&since, &args.reverse_duplicates],
        )?;
        tx.commit()?;
        rows.iter()
            .map(|row| (row.get("user_id"), row.get("credits")))
            .collect()
    };
    let planned_credits: i64 = affected.iter().map(|(_, credits)| credits).sum();
    note(format!(
        "{} affected user(s) since {}; crediting their completed recharges grants {planned_credits} credits",
        affected.len(),
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
    if affected.is_empty() {
        note("nothing to repair");
    } else if !args.write.dry_run {
        confirm(
            &args.write,
            &db.target,
            &format!(
                "repair {} user(s) in batches of {}",
                affected.len(),
                args.batch_size
            ),
        )?;
    }

    let users: Vec<String> = affected.iter().map(|(user, _)| user.clone()).collect();
    let batches = users.len().div_ceil(args.batch_size as usize);
    let mut interrupted_after = None;
    interrupt::listen();
    let progress = progress_bar(users.len() as u64);
    let mut totals = Totals::default();
    let mut skipped: Vec<String> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    for (number, batch) in users.chunks(args.batch_size as usize).enumerate() {
        if interrupt::requested() {
            interrupted_after = Some(number);
            break;
        }
        let outcome = repair_batch(db, batch, args).with_context(|| {
            format!(
                "batch {} of {} stopped the run: {} user(s) were repaired and committed before it, \
                 nothing of this batch was; run the same command again to finish (nothing is doubled)",
                number + 1,
                batches,
                totals.users_fixed
            )
        });
        match outcome {
            Ok((done, locked)) => {
                totals.add(&done);
                skipped.extend(locked);
            }
            // A batch that fails for a reason of one user's data: repair its
            // users one by one, so one bad row does not hold back the rest.
            Err(error) if is_data_error(&error) => {
                for user in batch {
                    match repair_batch(db, std::slice::from_ref(user), args) {
                        Ok((done, locked)) => {
                            totals.add(&done);
                            skipped.extend(locked);
                        }
                        Err(error) if is_data_error(&error) => {
                            failed.push((user.clone(), format!("{:#}", error)))
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            Err(error) => return Err(error),
        }
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();

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
        totals.users_fixed.into(),
        totals.recharges_credited.into(),
        totals.credits_granted.into(),
        totals.recharges_completed.into(),
        totals.balances_corrected.into(),
        totals.duplicates_reversed.into(),
        totals.reported.into(),
        skipped.len().into(),
        failed.len().into(),
    ]);
    let mut left = Section::new("left_alone", "Users left alone", &["user_id", "why"]);
    for user in &skipped {
        left.push(vec![
            user.to_string().into(),
            "rows locked by another session: run again".into(),
        ]);
    }
    for (user, why) in &failed {
        left.push(vec![user.to_string().into(), why.clone().into()]);
    }
    let mut report = Report::new("bulk-fix");
    report.field("database", target);
    report.field("since", crate::output::time(&since));
    report.field("dry_run", args.write.dry_run);
    report.field("affected_users", affected.len());
    report.field("planned_credits", planned_credits);
    report.sections = vec![summary, left];
    report.print(format)?;

    if let Some(done) = interrupted_after {
        note(format!(
            "interrupted: {done} of {batches} batch(es) were {} ({} user(s) repaired); \
             nothing of the others was touched. Run the same command again to finish: \
             nothing is doubled.",
            if args.write.dry_run {
                "planned"
            } else {
                "committed"
            },
            totals.users_fixed
        ));
        Ok(Code::Partial)
    } else if skipped.is_empty() && failed.is_empty() {
        Ok(Code::Ok)
    } else {
        note(format!(
            "{} user(s) skipped (locked) and {} failed; run the same command again for them",
            skipped.len(),
            failed.len()
        ));
        Ok(Code::Partial)
    }
}

/// Repairs one batch in one transaction: committed, or rolled back in a dry
/// run. Returns the totals and the users skipped because their rows were locked.
fn repair_batch(
    db: &mut Db,
    batch: &[String],
    args: &BulkFixArgs,
) -> Result<(Totals, Vec<String>)> {
    let mut tx = db.transaction()?;
    let locked: Vec<String> = tx
        .query(sql::REPAIR_LOCK_USERS, &[&batch])?
        .iter()
        .map(|row| row.get("user_id"))
        .collect();
    let free: Vec<String> = batch
        .iter()
        .filter(|user| !locked.contains(user))
        .cloned()
        .collect();
    let rows = tx.query(
        sql::REPAIR_FIX_USERS,
        &[
            &free,
            &args.write.operator,
            &args.write.reason,
            &"bulk-fix",
            &args.reverse_duplicates,
        ],
    )?;
    let mut totals = Totals::default();
    let mut changed: BTreeMap<String, bool> = BTreeMap::new();
    for row in &rows {
        let user: String = row.get("user_id");
        let action = Action::parse(row.get("action"))?;
        let credits: Option<i64> = row.get("credits");
        match action {
            Action::Credited => {
                totals.recharges_credited += 1;
                totals.credits_granted += credits.unwrap_or(0);
            }
            Action::MarkedCompleted => totals.recharges_completed += 1,
            Action::BalanceCorrected => totals.balances_corrected += 1,
            Action::DuplicateReversed => totals.duplicates_reversed += 1,
            _ => totals.reported += 1,
        }
        *changed.entry(user).or_default() |= action.is_change();
    }
    totals.users_fixed = changed.values().filter(|changed| **changed).count() as u64;
    if args.write.dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok((totals, locked))
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.users_fixed += other.users_fixed;
        self.recharges_credited += other.recharges_credited;
        self.credits_granted += other.credits_granted;
        self.recharges_completed += other.recharges_completed;
        self.balances_corrected += other.balances_corrected;
        self.duplicates_reversed += other.duplicates_reversed;
        self.reported += other.reported;
    }
}

/// An error about the data of a user (a constraint, a trigger of the app,
/// a lock wait that timed out), as opposed to the connection or the server.
fn is_data_error(error: &anyhow::Error) -> bool {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<postgres::Error>())
        .and_then(|e| e.code())
        .is_some_and(|code| {
            let class = &code.code()[..2];
            // 22 data exception, 23 integrity, 40 deadlock or serialization
            // (retried user by user), 55 lock not available, P0 raised in PL/pgSQL
            matches!(class, "22" | "23" | "40" | "55" | "P0")
        })
}

/// A progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} users {elapsed} (eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}
