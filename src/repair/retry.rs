//! `retry-failed`'s operation: the plan (a read-only query making the same
//! decisions as the retry, checked against Stripe where asked), the retry
//! itself in time-sized batches that skip rows someone else holds, and the
//! report. The payment intents the operator attests are read here too.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde_json::Value;

use crate::cli::{Format, StripeEvidence};
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::kept;
use crate::output::{Report, Section, Streamed, note};
use crate::scope;

use super::{
    Action, Audit, Outcome, RetryTerms, Tally, batches, retry_candidates, retry_plan,
    retry_recharges, stripe,
};

/// The window as the operator gave it, for what is said back to them.
pub struct Window<'a> {
    pub since_text: &'a str,
    pub include_pending: bool,
}

/// A planned retry: what it would do to each candidate, and what Stripe
/// said where it was asked.
pub struct Retry {
    pub terms: RetryTerms,
    pub attested: Vec<String>,
    pub plan: Vec<Outcome>,
    pub verdicts: Option<stripe::Verdicts>,
}

impl Retry {
    /// Plans, read-only; with Stripe evidence, asks it about what the plan
    /// would credit and plans again with its answers.
    pub fn plan(
        db: &mut Db,
        mut terms: RetryTerms,
        attested: Vec<String>,
        evidence: &StripeEvidence,
        operator: &str,
        reading: &Reading,
    ) -> Result<Retry> {
        for pi in &attested {
            terms.attestations.insert(pi.clone(), Value::Null);
        }
        if reading.fold {
            kept::refresh(db, kept::REFRESH_BUDGET);
        }
        let candidates = retry_candidates(db, &terms, reading.rescan)?;
        let mut plan = read_plan(db, &candidates, reading.pages, &terms, operator)?;
        let verdicts = stripe::judge(evidence, db, &plan)?;
        if let Some(verdicts) = &verdicts {
            terms.attestations.extend(verdicts.paid.clone());
            let replanned = read_plan(db, &candidates, reading.pages, &terms, operator)?;
            plan = verdicts.apply(replanned);
        }
        Ok(Retry {
            terms,
            attested,
            plan,
            verdicts,
        })
    }

    /// The recharges the plan credits.
    pub fn to_credit(&self) -> Vec<String> {
        self.plan
            .iter()
            .filter(|o| o.action == Action::Credited)
            .filter_map(|o| o.recharge_id.clone())
            .collect()
    }

    /// On stderr: what needs a person (no evidence, attestations matching
    /// nothing), and with `plan` the first rows of what will be credited.
    pub fn tell(&self, window: &Window<'_>, plan: bool) {
        tell_unverified(&self.plan, &unmatched(&self.attested, &self.plan), window);
        if plan {
            tell_plan(&self.plan);
        }
    }

    /// Credits what the plan credits, in batches each committed on its
    /// own; what the plan leaves alone stays as planned. The plan's rows
    /// move into the outcomes (never copied: at 10M recharges there are
    /// tens of thousands).
    pub fn apply(
        &mut self,
        db: &mut Db,
        sizing: batches::Sizing,
        audit: &Audit<'_>,
    ) -> Result<(Vec<Outcome>, batches::Run)> {
        let to_credit = self.to_credit();
        let mut outcomes: Vec<Outcome> = std::mem::take(&mut self.plan)
            .into_iter()
            .filter(|o| o.action != Action::Credited)
            .collect();
        let terms = &self.terms;
        let run = batches::run(
            db,
            &to_credit,
            sizing,
            true,
            "recharges",
            |tx, batch| retry_recharges(tx, batch, terms, audit),
            |done| outcomes.extend(done),
        )?;
        outcomes.sort_by(|a, b| a.recharge_id.cmp(&b.recharge_id));
        tell_locked(&outcomes);
        Ok((outcomes, run))
    }
}

/// How the plan is read.
pub struct Reading {
    /// The candidates from the recharges table, not the kept facts.
    pub rescan: bool,
    /// Fold the app's pending changes into the kept facts first (not in a
    /// dry run, nor with `rescan`; the command decides, as bulk-fix's does).
    pub fold: bool,
    /// Candidates planned per read-only transaction: sized by time as the
    /// batches are, at most `--batch-size`. All of them at once held one
    /// snapshot open for seconds at 10M; 1,000 at a time, 360-640 ms each
    /// at 1M on a cold cache (45 ms warm). Each batch of the retry plans
    /// again under its locks.
    pub pages: batches::Sizing,
}

/// What retrying would do to `candidates`, read-only, a page sized by
/// `pages` at a time.
fn read_plan(
    db: &mut Db,
    candidates: &[String],
    pages: batches::Sizing,
    terms: &RetryTerms,
    operator: &str,
) -> Result<Vec<Outcome>> {
    let mut plan = Vec::with_capacity(candidates.len());
    let mut rest = candidates;
    let mut size = pages.first();
    while !rest.is_empty() {
        let (page, after) = rest.split_at(size.min(rest.len()));
        let started = Instant::now();
        let mut tx = db.read_only()?;
        retry_plan(&mut tx, page, terms, operator, &mut plan)?;
        tx.commit()?;
        size = pages.next(size, started.elapsed());
        rest = after;
    }
    Ok(plan)
}

/// The columns of the report's one row per candidate.
const RECHARGE_COLUMNS: &[&str] = &[
    "recharge_id",
    "user_id",
    "payment_intent_id",
    "credits",
    "action",
    "detail",
    "dashboard_url",
];

impl Retry {
    /// Prints the report of the retry (or of its plan, `outcomes` then
    /// being the plan): the counts, and one row per candidate. Scripts (JSON,
    /// CSV) get every row, written one at a time; a table shows the first
    /// `shown`, since a person reads no more and holding tens of thousands
    /// of rows for one cost hundreds of megabytes at 10M recharges. Returns
    /// how many rows the table left out.
    pub fn print_report(
        &self,
        database: String,
        (outcomes, run): (&[Outcome], &batches::Run),
        window: &Window<'_>,
        dry_run: bool,
        format: Format,
        shown: usize,
    ) -> Result<usize> {
        let mut report = self.counts(database, outcomes, window, dry_run);
        run.report(&mut report);
        let rows = outcomes.iter().map(|o| recharge_row(o, dry_run));
        if format == Format::Table {
            let mut recharges =
                Section::new("recharges", "Failed and stuck recharges", RECHARGE_COLUMNS);
            rows.take(shown).for_each(|row| recharges.push(row));
            report.sections = vec![recharges];
            report.print(format)?;
            Ok(outcomes.len().saturating_sub(shown))
        } else {
            let mut stream = Streamed::start(format, &report, "recharges", RECHARGE_COLUMNS);
            rows.for_each(|row| stream.push(&row));
            stream.finish(&report)?;
            Ok(0)
        }
    }

    /// The report's fields: what was (or would be) done, counted.
    fn counts(
        &self,
        database: String,
        outcomes: &[Outcome],
        window: &Window<'_>,
        dry_run: bool,
    ) -> Report {
        let tally = Tally::of(outcomes);
        let unmatched = unmatched(&self.attested, outcomes);
        let mut report = Report::new("retry-failed");
        report.field("database", database);
        report.field("dry_run", dry_run);
        report.field("since", crate::output::time(&self.terms.since));
        report.field("include_pending", window.include_pending);
        report.field("credited", tally.count(Action::Credited));
        report.field("credits_granted", tally.credits(Action::Credited));
        report.field("no_evidence", tally.count(Action::NoEvidence));
        report.field("forgeable_evidence", tally.count(Action::ForgeableEvidence));
        report.field("skipped_locked", tally.count(Action::SkippedLocked));
        if let Some(verdicts) = &self.verdicts {
            if let Some(mode) = verdicts.mode {
                report.field("stripe_mode", mode.label());
            }
            report.field("not_paid_in_stripe", tally.count(Action::NotPaidInStripe));
        }
        report.field(
            "unmatched_attestations",
            Value::from(unmatched.iter().map(|pi| pi.as_str()).collect::<Vec<_>>()),
        );
        report
    }
}

fn recharge_row(o: &Outcome, dry_run: bool) -> Vec<Value> {
    vec![
        o.recharge_id.clone().into(),
        o.user_id.clone().into(),
        o.payment_intent_id.clone().into(),
        o.credits.into(),
        o.action.shown(dry_run).into(),
        o.detail.clone().into(),
        o.payment_intent_id
            .as_deref()
            .map_or(Value::Null, |pi| scope::dashboard_url(pi).into()),
    ]
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
pub fn attested(paid: &[String], paid_file: Option<&Path>) -> Result<Vec<String>> {
    // Pasted ids often carry spaces around them.
    let mut ids: Vec<String> = paid.iter().map(|id| id.trim().to_string()).collect();
    if let Some(path) = paid_file {
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
fn tell_unverified(outcomes: &[Outcome], unmatched: &[&String], window: &Window<'_>) {
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
        let hint = if window.include_pending {
            ""
        } else {
            " (a pending recharge needs --include-pending)"
        };
        note(format!(
            "{} attested payment intent(s) match no uncredited failed or stuck recharge in the window (--since {}){hint}: {}",
            unmatched.len(),
            window.since_text,
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
