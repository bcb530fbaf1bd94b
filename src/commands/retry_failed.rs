//! `credits retry-failed`: credit the failed (and, with `--include-pending`,
//! stuck pending) recharges of a window that have evidence of payment, or
//! whose payment intent the operator attests with `--paid`/`--paid-file`,
//! through the one crediting path (`credits_ops.retry_recharges`, on which
//! the runbook's `retry_failed_payments()` also runs).
//!
//! The plan is a read-only query making the same decisions as the retry;
//! the retry itself runs after the confirmation, in short batches that skip
//! rows someone else holds (see `repair::batches`): a locked recharge is
//! reported (exit 5), and running the command again credits it.

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::Value;

use crate::cli::{Format, RetryFailedArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::interrupt;
use crate::output::{Report, Section, note};
use crate::repair::{self, Action, Outcome, RetryTerms, Tally, batches};
use crate::scope;

pub fn run(db: &mut Db, args: &RetryFailedArgs, format: Format) -> Result<Code> {
    let attested = attested(args)?;
    db.profile()?.require_writable()?;
    let mut terms = RetryTerms {
        since: args.window.since.at,
        include_pending: args.include_pending,
        stuck_after: args.window.stuck_after,
        attestations: attested
            .iter()
            .map(|pi| (pi.clone(), Value::Null))
            .collect(),
        trust_app_evidence: args.trust_app_evidence,
    };
    let target = db.target.to_string();
    let mut plan = plan(db, &terms, &args.write.operator)?;
    let verdicts = repair::stripe::judge(&args.stripe, db, &plan)?;
    if let Some(verdicts) = &verdicts {
        terms.attestations.extend(verdicts.paid.clone());
        plan = verdicts.apply(self::plan(db, &terms, &args.write.operator)?);
    }
    let to_credit: Vec<String> = plan
        .iter()
        .filter(|o| o.action == Action::Credited)
        .filter_map(|o| o.recharge_id.clone())
        .collect();

    let mut run = batches::Run::default();
    let outcomes = if args.write.dry_run || to_credit.is_empty() {
        note(if args.write.dry_run {
            format!(
                "dry run: {} recharge(s) would be credited; nothing was written",
                to_credit.len()
            )
        } else {
            "nothing to credit: no failed or stuck recharge in the window has evidence of payment or an attestation".to_string()
        });
        tell_unverified(&plan, &unmatched(&attested, &plan), args);
        plan
    } else {
        tell_unverified(&plan, &unmatched(&attested, &plan), args);
        tell_plan(&plan);
        confirm(
            &args.write,
            &target,
            &format!("credit {} failed or stuck recharge(s)", to_credit.len()),
        )?;
        interrupt::listen();
        let audit = args.write.audit("retry-failed");
        // What the plan leaves alone stays as planned; the rest is what the
        // retry did.
        let mut outcomes: Vec<Outcome> = plan
            .into_iter()
            .filter(|o| o.action != Action::Credited)
            .collect();
        run = batches::run(
            db,
            &to_credit,
            args.batches.sizing(),
            true,
            "recharges",
            |tx, batch| repair::retry_recharges(tx, batch, &terms, &audit),
            |done| outcomes.extend(done),
        )?;
        outcomes.sort_by(|a, b| a.recharge_id.cmp(&b.recharge_id));
        outcomes
    };
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
        recharges.push(vec![
            o.recharge_id.clone().into(),
            o.user_id.clone().into(),
            o.payment_intent_id.clone().into(),
            o.credits.into(),
            o.action.shown(args.write.dry_run).into(),
            o.detail.clone().into(),
            o.payment_intent_id
                .as_deref()
                .map_or(Value::Null, |pi| scope::dashboard_url(pi).into()),
        ]);
    }
    let tally = Tally::of(&outcomes);
    let unmatched = unmatched(&attested, &outcomes);
    let mut report = Report::new("retry-failed");
    report.field("database", target);
    report.field("dry_run", args.write.dry_run);
    report.field("since", crate::output::time(&terms.since));
    report.field("include_pending", args.include_pending);
    report.field("credited", tally.count(Action::Credited));
    report.field("credits_granted", tally.credits(Action::Credited));
    report.field("no_evidence", tally.count(Action::NoEvidence));
    report.field("forgeable_evidence", tally.count(Action::ForgeableEvidence));
    report.field("skipped_locked", tally.count(Action::SkippedLocked));
    if let Some(verdicts) = &verdicts {
        if let Some(mode) = verdicts.mode {
            report.field("stripe_mode", mode.label());
        }
        report.field("not_paid_in_stripe", tally.count(Action::NotPaidInStripe));
    }
    report.field(
        "unmatched_attestations",
        Value::from(unmatched.iter().map(|pi| pi.as_str()).collect::<Vec<_>>()),
    );
    report.sections = vec![recharges];
    report.print(format)?;
    Ok(run.finish(args.write.dry_run, "recharge(s)"))
}

/// What retrying would do, read-only.
fn plan(db: &mut Db, terms: &RetryTerms, operator: &str) -> Result<Vec<Outcome>> {
    let mut tx = db.read_only()?;
    let plan = repair::retry_plan(&mut tx, terms, operator)?;
    tx.commit()?;
    Ok(plan)
}

/// On stderr before the confirmation: the counts and the first rows of the
/// plan; every row is in `--dry-run --output json`.
fn tell_plan(plan: &[Outcome]) {
    const SHOWN: usize = 20;
    let credited: Vec<&Outcome> = plan
        .iter()
        .filter(|o| o.action == Action::Credited)
        .collect();
    let granted: i64 = credited.iter().filter_map(|o| o.credits).sum();
    note(format!(
        "Plan: credit {} recharge(s), {granted} credits in all{}:",
        credited.len(),
        if credited.len() > SHOWN {
            format!(" (the first {SHOWN}; all of them: --dry-run --output json)")
        } else {
            String::new()
        }
    ));
    for o in credited.into_iter().take(SHOWN) {
        note(format!(
            "  credit {} ({}): {} credits to user {} ({})",
            o.recharge_id.as_deref().unwrap_or(""),
            o.payment_intent_id
                .as_deref()
                .unwrap_or("no payment intent"),
            o.credits.unwrap_or(0),
            o.user_id,
            o.detail
        ));
    }
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
                    o.recharge_id.as_deref().unwrap_or(""),
                    o.user_id,
                    o.credits.unwrap_or(0),
                    scope::dashboard_url(pi)
                )),
                None => note(format!(
                    "  {} user {} {} credits: no payment intent, nothing to verify in Stripe",
                    o.recharge_id.as_deref().unwrap_or(""),
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
            note(format!(
                "  {} user {}",
                o.recharge_id.as_deref().unwrap_or(""),
                o.user_id
            ));
        }
    }
}
