//! `credits fix-user`: repair one user through `credits_ops.fix_user`, the
//! same function the runbook's `manual_fix_user_credits` path uses.
//!
//! The plan is the repair itself, run in a transaction that is rolled back:
//! exactly what would change, with no second copy of the logic. The real run
//! starts a new transaction after the confirmation, so no lock is held while
//! a person reads the plan; what it did is printed from its own results.

use anyhow::{Context, Result};
use postgres::Transaction;

use crate::cli::{FixUserArgs, Format};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::{Report, Section, note};
use crate::repair::{self, Outcome, Tally};
use crate::scope;
use crate::sql;

struct Repair {
    outcomes: Vec<Outcome>,
    before: (Option<i64>, i64),
    after: (Option<i64>, i64),
}

pub fn run(db: &mut Db, args: &FixUserArgs, format: Format) -> Result<Code> {
    db.profile()?.require_reversible(args.reverse_duplicates)?;
    let target = db.target.to_string();
    let (user_id, mut plan) = {
        let mut tx = db.transaction()?;
        let user_id = scope::resolve_subject(&mut tx, &args.subject)?;
        let plan = repair(&mut tx, &user_id, args, None)?;
        tx.rollback()?;
        (user_id, plan)
    };
    // Asked to, Stripe decides what may be credited; the plan is made again
    // with its verdicts.
    let stripe = repair::stripe::judge(&args.stripe, db, &plan.outcomes)?;
    if stripe.is_some() {
        let mut tx = db.transaction()?;
        plan = repair(&mut tx, &user_id, args, stripe.as_ref())?;
        tx.rollback()?;
    }

    let changes = Tally::of(&plan.outcomes).changes();
    let result = if args.write.dry_run {
        note(format!(
            "dry run: {changes} change(s) would be made; nothing was written"
        ));
        plan
    } else if changes == 0 {
        note(format!("nothing to repair for user {user_id}"));
        plan
    } else {
        note("Plan:");
        for o in plan.outcomes.iter().filter(|o| o.action.is_change()) {
            note(format!(
                "  {} {}: {} ({})",
                o.action,
                o.recharge_id.as_deref().unwrap_or("balance"),
                o.credits.unwrap_or(0),
                o.detail
            ));
        }
        confirm(
            &args.write,
            &db.target,
            &format!("make {changes} change(s) for user {user_id}"),
        )?;
        let mut tx = db.transaction()?;
        let done = repair(&mut tx, &user_id, args, stripe.as_ref())?;
        tx.commit()
            .context("committing the repair; nothing was changed")?;
        done
    };

    let mut balance = Section::new("balance", "Balance", &["when", "balance", "ledger_sum"]);
    for (when, (cached, ledger)) in [("before", result.before), ("after", result.after)] {
        balance.push(vec![when.into(), cached.into(), ledger.into()]);
    }
    let mut actions = Section::new(
        "actions",
        "What happened",
        &["recharge_id", "action", "credits", "detail"],
    );
    for o in &result.outcomes {
        actions.push(vec![
            o.recharge_id.clone().into(),
            o.action.shown(args.write.dry_run).into(),
            o.credits.into(),
            o.detail.clone().into(),
        ]);
    }
    let mut report = Report::new("fix-user");
    report.field("database", target);
    report.field("user_id", user_id.to_string());
    report.field("dry_run", args.write.dry_run);
    report.field("changes", Tally::of(&result.outcomes).changes());
    report.sections = vec![actions, balance];
    report.print(format)?;
    Ok(Code::Ok)
}

fn repair(
    tx: &mut Transaction<'_>,
    user_id: &str,
    args: &FixUserArgs,
    stripe: Option<&repair::stripe::Verdicts>,
) -> Result<Repair> {
    let before = ledger(tx, user_id)?;
    let outcomes = repair::fix_users(
        tx,
        &[user_id.to_string()],
        &args.write.audit("fix-user"),
        args.reverse_duplicates,
        false,
        stripe,
    )
    .map_err(|error| explain_lock(error, user_id))?;
    let after = ledger(tx, user_id)?;
    Ok(Repair {
        outcomes,
        before,
        after,
    })
}

fn ledger(tx: &mut Transaction<'_>, user_id: &str) -> Result<(Option<i64>, i64)> {
    let row = tx.query_one(sql::SUPPORT_USER, &[&user_id])?;
    Ok((row.get("balance"), row.get("ledger_sum")))
}

/// A lock held by someone else (the live webhook, another repair) is not a
/// failure of the data: say so, and that nothing changed.
fn explain_lock(error: anyhow::Error, user_id: &str) -> anyhow::Error {
    let code = error
        .downcast_ref::<postgres::Error>()
        .and_then(|e| e.code());
    if code == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
        fail(
            Code::Database,
            format!(
                "another session holds a lock on the rows of user {user_id} (the webhook, or another repair) \
                 for longer than --lock-timeout; nothing was changed. Run the same command again, \
                 or raise --lock-timeout"
            ),
        )
    } else {
        error
    }
}
