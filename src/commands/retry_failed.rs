//! `credits retry-failed`: credit the failed (and, with `--include-pending`,
//! stuck pending) recharges of a window that have evidence of payment, or
//! whose payment intent the operator attests with `--paid`/`--paid-file`,
//! through `credits_ops.retry_failed` (the same function as the runbook's
//! `retry_failed_payments()`), which credits through `apply_recharge`.
//!
//! As in `fix-user`, the plan is the repair itself run in a transaction that
//! is rolled back; the real run starts a new transaction after the
//! confirmation. Rows locked by someone else are skipped, never waited for,
//! and reported (exit 5); running the command again credits them.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cli::{Format, RetryFailedArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::interrupt;
use crate::output::{Report, Section, note};
use crate::repair::Action;
use crate::scope;
use crate::sql;

/// What `credits_ops.retry_failed` did (or would do) to one recharge.
struct Outcome {
    recharge_id: String,
    user_id: String,
    payment_intent_id: Option<String>,
    credits: Option<i64>,
    action: Action,
    detail: String,
}

fn count(outcomes: &[Outcome], action: Action) -> usize {
    outcomes.iter().filter(|o| o.action == action).count()
}

pub fn run(db: &mut Db, args: &RetryFailedArgs, format: Format) -> Result<Code> {
    let since = args.window.since.at;
    let attested = attested(args)?;
    db.profile()?.require_writable()?;
    let target = db.target.to_string();
    let plan = retry(db, since, &attested, args, false)?;

    let credited = count(&plan, Action::Credited);
    let outcomes = if args.write.dry_run {
        note(format!(
            "dry run: {credited} recharge(s) would be credited; nothing was written"
        ));
        plan
    } else if credited == 0 {
        note(
            "nothing to credit: no failed or stuck recharge in the window has evidence of payment or an attestation",
        );
        plan
    } else {
        tell_unverified(&plan, &unmatched(&attested, &plan), args);
        // Summarised: the counts and the first rows; every row is in
        // `--dry-run --output json`.
        const SHOWN: usize = 20;
        let granted: i64 = plan
            .iter()
            .filter(|o| o.action == Action::Credited)
            .filter_map(|o| o.credits)
            .sum();
        note(format!(
            "Plan: credit {credited} recharge(s), {granted} credits in all{}:",
            if credited > SHOWN {
                format!(" (the first {SHOWN}; all of them: --dry-run --output json)")
            } else {
                String::new()
            }
        ));
        for o in plan
            .iter()
            .filter(|o| o.action == Action::Credited)
            .take(SHOWN)
        {
            note(format!(
                "  credit {} ({}): {} credits to user {} ({})",
                o.recharge_id,
                o.payment_intent_id
                    .as_deref()
                    .unwrap_or("no payment intent"),
                o.credits.unwrap_or(0),
                o.user_id,
                o.detail
            ));
        }
        confirm(
            &args.write,
            &target,
            &format!("credit {credited} failed or stuck recharge(s)"),
        )?;
        interrupt::listen();
        retry(db, since, &attested, args, true)?
    };

    let unmatched = unmatched(&attested, &outcomes);
    if args.write.dry_run || credited == 0 {
        tell_unverified(&outcomes, &unmatched, args);
    }
    tell_locked(&outcomes);

    let mut recharges = Section::new(
        "recharges",
        "Failed and stuck recharges",
        &[
            "recharge_id",
            "user_id",
            "payment_intent_id",
            "credits",
            "action",
            "detail",
            "dashboard_url",
        ],
    );
    for o in &outcomes {
        let action = o.action.shown(args.write.dry_run);
        recharges.push(vec![
            o.recharge_id.to_string().into(),
            o.user_id.to_string().into(),
            o.payment_intent_id.clone().into(),
            o.credits.into(),
            action.into(),
            o.detail.clone().into(),
            o.payment_intent_id
                .as_deref()
                .map_or(Value::Null, |pi| scope::dashboard_url(pi).into()),
        ]);
    }
    let granted: i64 = outcomes
        .iter()
        .filter(|o| o.action == Action::Credited)
        .filter_map(|o| o.credits)
        .sum();
    let skipped = count(&outcomes, Action::SkippedLocked);
    let mut report = Report::new("retry-failed");
    report.field("database", target);
    report.field("dry_run", args.write.dry_run);
    report.field("since", crate::output::time(&since));
    report.field("include_pending", args.include_pending);
    report.field("credited", count(&outcomes, Action::Credited));
    report.field("credits_granted", granted);
    report.field("no_evidence", count(&outcomes, Action::NoEvidence));
    report.field(
        "forgeable_evidence",
        count(&outcomes, Action::ForgeableEvidence),
    );
    report.field("skipped_locked", skipped);
    report.field(
        "unmatched_attestations",
        Value::from(unmatched.iter().map(|pi| pi.as_str()).collect::<Vec<_>>()),
    );
    report.sections = vec![recharges];
    report.print(format)?;
    Ok(if skipped > 0 { Code::Partial } else { Code::Ok })
}

/// The payment intents the operator attests were paid: `--paid` and the
/// lines of `--paid-file`, deduplicated. Anything that is not a `pi_` id is
/// a usage error, before anything is read from the database.
fn attested(args: &RetryFailedArgs) -> Result<Vec<String>> {
    // Pasted ids often carry spaces around them.
    let mut ids: Vec<String> = args.paid.iter().map(|id| id.trim().to_string()).collect();
    if let Some(path) = &args.paid_file {
        let text = std::fs::read_to_string(path).map_err(|error| {
            fail(
                Code::Usage,
                format!(
                    "cannot read --paid-file {}: {error}; nothing was done",
                    path.display()
                ),
            )
        })?;
        for (number, line) in text.lines().enumerate() {
            let id = line.split('#').next().unwrap_or("").trim();
            if id.is_empty() {
                continue;
            }
            if !valid_payment_intent(id) {
                return Err(fail(
                    Code::Usage,
                    format!(
                        "{}:{}: {id:?} is not a Stripe payment intent id (pi_...); nothing was done",
                        path.display(),
                        number + 1
                    ),
                ));
            }
            ids.push(id.to_string());
        }
    }
    if let Some(bad) = ids.iter().find(|id| !valid_payment_intent(id)) {
        return Err(fail(
            Code::Usage,
            format!("--paid {bad:?} is not a Stripe payment intent id (pi_...); nothing was done"),
        ));
    }
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(ids)
}

fn valid_payment_intent(id: &str) -> bool {
    id.len() > 3 && id.starts_with("pi_") && !id.contains(char::is_whitespace)
}

/// Candidates per transaction: each batch holds its row locks only until
/// it commits, so the live webhook never waits long on a retry.
const BATCH: i32 = 200;

/// Runs credits_ops.retry_failed batch by batch, in recharge id order, each
/// batch in its own transaction: committed, or rolled back for the plan.
fn retry(
    db: &mut Db,
    since: DateTime<Utc>,
    attested: &[String],
    args: &RetryFailedArgs,
    commit: bool,
) -> Result<Vec<Outcome>> {
    let stuck_after = format!("{} seconds", args.window.stuck_after.as_secs());
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut after: Option<String> = None;
    let mut committed = 0;
    loop {
        if commit && interrupt::requested() {
            return Err(fail(
                Code::Partial,
                format!(
                    "interrupted: {committed} batch(es) were committed ({} recharge(s) credited); \
                     nothing of the others was touched. Run the same command again to finish: \
                     nothing is doubled.",
                    count(&outcomes, Action::Credited)
                ),
            ));
        }
        let mut tx = db.transaction()?;
        let rows = tx
            .query(
                sql::REPAIR_RETRY_FAILED,
                &[
                    &since,
                    &args.include_pending,
                    &stuck_after,
                    &attested,
                    &args.write.operator,
                    &args.write.reason,
                    &"retry-failed",
                    &after,
                    &BATCH,
                    &args.trust_app_evidence,
                ],
            )
            .with_context(|| {
                let credited = count(&outcomes, Action::Credited);
                if commit {
                    format!("a batch failed; {credited} recharge(s) were credited and committed before it, nothing of this batch was; run the same command again to finish (nothing is doubled)")
                } else {
                    "planning the retry".to_string()
                }
            })?;
        if commit {
            tx.commit()
                .context("committing a batch of credits; nothing of that batch was changed")?;
            committed += 1;
        } else {
            tx.rollback()?;
        }
        let batch: Vec<Outcome> = rows
            .iter()
            .map(|row| {
                Ok(Outcome {
                    recharge_id: row.get("recharge_id"),
                    user_id: row.get("user_id"),
                    payment_intent_id: row.get("payment_intent_id"),
                    credits: row.get("credits"),
                    action: Action::parse(row.get("action"))?,
                    detail: row.get("detail"),
                })
            })
            .collect::<Result<_>>()?;
        let full = batch.len() == BATCH as usize;
        // The SQL pages in its own (collation's) order of ids: continue after
        // the last row it returned, not after what Rust would sort last.
        after = batch.last().map(|o| o.recharge_id.clone());
        outcomes.extend(batch);
        if !full {
            return Ok(outcomes);
        }
    }
}

/// The attested payment intents that match no candidate recharge.
fn unmatched<'a>(attested: &'a [String], outcomes: &[Outcome]) -> Vec<&'a String> {
    let matched: BTreeSet<&str> = outcomes
        .iter()
        .filter_map(|o| o.payment_intent_id.as_deref())
        .collect();
    attested
        .iter()
        .filter(|pi| !matched.contains(pi.as_str()))
        .collect()
}

/// On stderr, what the person must check: the payments without evidence
/// (to verify in Stripe), and attested ids that matched nothing.
fn tell_unverified(outcomes: &[Outcome], unmatched: &[&String], args: &RetryFailedArgs) {
    let unverified: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.action.needs_verification())
        .collect();
    if !unverified.is_empty() {
        note(format!(
            "{} recharge(s) have no evidence of payment, or only evidence anon or a signed-in user \
             could have forged, and were left untouched. \
             Verify each in Stripe; if it was paid, rerun with --paid <payment intent>:",
            unverified.len()
        ));
        // The first ones on stderr; every one is in the report (stdout).
        const SHOWN: usize = 20;
        if unverified.len() > SHOWN {
            note(format!(
                "  (the first {SHOWN}; all {} are in the output, e.g. --output csv)",
                unverified.len()
            ));
        }
        for o in unverified.into_iter().take(SHOWN) {
            match o.payment_intent_id.as_deref() {
                Some(pi) => note(format!(
                    "  {} user {} {} credits: {}",
                    o.recharge_id,
                    o.user_id,
                    o.credits.unwrap_or(0),
                    scope::dashboard_url(pi)
                )),
                None => note(format!(
                    "  {} user {} {} credits: no payment intent, nothing to verify in Stripe",
                    o.recharge_id,
                    o.user_id,
                    o.credits.unwrap_or(0)
                )),
            }
        }
    }
    if !unmatched.is_empty() {
        let hint = if args.include_pending {
            ""
        } else {
            " (a pending recharge needs --include-pending)"
        };
        note(format!(
            "{} attested payment intent(s) match no uncredited failed or stuck recharge in the window (--since {}){hint}: {}",
            unmatched.len(),
            args.window.since.text,
            unmatched
                .iter()
                .map(|pi| pi.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// On stderr, the recharges skipped because someone else held their rows.
fn tell_locked(outcomes: &[Outcome]) {
    let locked: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.action == Action::SkippedLocked)
        .collect();
    if !locked.is_empty() {
        note(format!(
            "{} recharge(s) were skipped because another session (the webhook, another repair) \
             holds their rows; run the same command again to credit them:",
            locked.len()
        ));
        for o in locked {
            note(format!("  {} user {}", o.recharge_id, o.user_id));
        }
    }
}
