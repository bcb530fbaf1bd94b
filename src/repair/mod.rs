//! The repairs' library layer: what the repair SQL answers, parsed once
//! into typed outcomes ([`Outcome`], [`Action`]) and counted the same way by
//! every command ([`Tally`]); and the batch runner ([`batches`]) that
//! `bulk-fix` and `retry-failed` share.

mod action;
pub mod batches;
pub mod bulk;
pub mod one_user;
pub mod retry;
pub mod stripe;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Row, Transaction};
use serde_json::{Map, Value};

use crate::db::Db;
use crate::kept::{self, Facts};
use crate::scope::Scope;
use crate::sql;

pub use action::Action;

/// One thing a repair did (or, in a plan, would do), in the columns every
/// repair SQL returns: user_id, recharge_id, payment_intent_id, action,
/// credits, detail.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub user_id: String,
    /// None for what concerns the user's balance.
    pub recharge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub action: Action,
    pub credits: Option<i64>,
    pub detail: String,
}

impl Outcome {
    pub fn from_row(row: &Row) -> Result<Outcome> {
        Ok(Outcome {
            user_id: row.get("user_id"),
            recharge_id: row.get("recharge_id"),
            payment_intent_id: row.get("payment_intent_id"),
            action: Action::parse(row.get("action"))?,
            credits: row.get("credits"),
            detail: row.get("detail"),
        })
    }

    pub fn all(rows: &[Row]) -> Result<Vec<Outcome>> {
        rows.iter().map(Outcome::from_row).collect()
    }
}

/// What a run did, counted from its outcomes: how many of each action, the
/// credits each moved, and the users with at least one change.
#[derive(Debug, Default)]
pub struct Tally {
    counts: BTreeMap<Action, u64>,
    credits: BTreeMap<Action, i64>,
    /// Counted per call of [`Tally::add`], not kept: each caller adds all of
    /// a user's outcomes in one call (fix-user one user, bulk-fix a batch of
    /// users, each user in one batch), so a run of millions of users keeps
    /// no set of their ids.
    users_changed: usize,
}

impl Tally {
    pub fn of(outcomes: &[Outcome]) -> Tally {
        let mut tally = Tally::default();
        tally.add(outcomes);
        tally
    }

    pub fn add(&mut self, outcomes: &[Outcome]) {
        let mut changed: BTreeSet<&str> = BTreeSet::new();
        for o in outcomes {
            *self.counts.entry(o.action).or_default() += 1;
            *self.credits.entry(o.action).or_default() += o.credits.unwrap_or(0);
            if o.action.is_change() {
                changed.insert(&o.user_id);
            }
        }
        self.users_changed += changed.len();
    }

    pub fn count(&self, action: Action) -> u64 {
        self.counts.get(&action).copied().unwrap_or(0)
    }

    pub fn credits(&self, action: Action) -> i64 {
        self.credits.get(&action).copied().unwrap_or(0)
    }

    /// Changes made (or planned), of every kind.
    pub fn changes(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(action, _)| action.is_change())
            .map(|(_, n)| n)
            .sum()
    }

    /// Things seen and left alone for a person to decide (duplicates,
    /// mismatches, missing evidence), not counting locked rows.
    pub fn reported(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(action, _)| !action.is_change() && **action != Action::SkippedLocked)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn users_changed(&self) -> usize {
        self.users_changed
    }
}

/// Who runs a repair and why: what the audit rows record.
pub struct Audit<'a> {
    pub operator: &'a str,
    pub reason: Option<&'a str>,
    pub command: &'a str,
}

/// The fix-user repair of a batch of users, in `tx`: of their recharges,
/// only `recharges` when given (bulk-fix's plan), else every one. With
/// `skip_locked`, users with a row someone else holds are left alone and
/// come back as skipped_locked; without it their locks are waited for
/// (lock_timeout). With `stripe`, what Stripe refused is not credited.
pub fn fix_users(
    tx: &mut Transaction<'_>,
    users: &[&str],
    recharges: Option<&[&str]>,
    audit: &Audit<'_>,
    reverse_duplicates: bool,
    skip_locked: bool,
    stripe: Option<&stripe::Verdicts>,
) -> Result<Vec<Outcome>> {
    let rows = tx.query(
        sql::REPAIR_FIX_USERS,
        &[
            &users,
            &audit.operator,
            &audit.reason,
            &audit.command,
            &reverse_duplicates,
            &skip_locked,
            &stripe.map(stripe::Verdicts::json),
            &recharges,
        ],
    )?;
    Outcome::all(&rows)
}

/// Which failed or stuck recharges `retry-failed` looks at, and on what
/// terms it may credit them.
pub struct RetryTerms {
    pub since: DateTime<Utc>,
    pub include_pending: bool,
    pub stuck_after: Duration,
    /// Payment intents attested as paid, each with its evidence: what
    /// Stripe answered, or null for the operator's own word (`--paid`).
    pub attestations: Map<String, Value>,
    pub trust_app_evidence: bool,
}

impl RetryTerms {
    fn attestations_json(&self) -> String {
        Value::Object(self.attestations.clone()).to_string()
    }

    fn stuck_after_text(&self) -> String {
        format!("{} seconds", self.stuck_after.as_secs())
    }
}

/// The recharges `retry-failed` looks at, by id, read in one snapshot:
/// from the kept facts (`sql/repair/retry_candidates.sql`), or from the
/// recharges table when they cannot be trusted or `rescan` asks for it.
pub fn retry_candidates(db: &mut Db, terms: &RetryTerms, rescan: bool) -> Result<Vec<String>> {
    let mut tx = db.snapshot()?;
    Scope::window(terms.since, terms.stuck_after).apply(&mut tx)?;
    let ids = match kept::source(&mut tx, rescan)? {
        facts @ Facts::Kept { .. } => tx
            .query(
                facts.over(sql::REPAIR_RETRY_CANDIDATES).as_str(),
                &[&terms.include_pending],
            )
            .context("reading the candidates (sql/repair/retry_candidates.sql)")?,
        Facts::Tables { .. } => tx
            .query(
                sql::REPAIR_RETRY_CANDIDATES_TABLES,
                &[
                    &terms.since,
                    &terms.include_pending,
                    &terms.stuck_after_text(),
                ],
            )
            .context("reading the candidates (sql/repair/retry_candidates_tables.sql)")?,
    }
    .iter()
    .map(|row| row.get("recharge_id"))
    .collect();
    tx.commit()?;
    Ok(ids)
}

/// What retrying would do to `candidates`, read-only, appended to `plan`
/// row by row: every candidate is kept as an outcome, never twice.
pub fn retry_plan(
    tx: &mut Transaction<'_>,
    candidates: &[String],
    terms: &RetryTerms,
    operator: &str,
    plan: &mut Vec<Outcome>,
) -> Result<()> {
    let attestations = terms.attestations_json();
    let params: [&(dyn ToSql + Sync); 4] = [
        &candidates,
        &attestations,
        &operator,
        &terms.trust_app_evidence,
    ];
    let mut rows = tx.query_raw(sql::REPAIR_RETRY_PLAN, params)?;
    while let Some(row) = rows.next()? {
        plan.push(Outcome::from_row(&row)?);
    }
    Ok(())
}

/// Retries a batch of recharges in `tx`, skipping rows someone else holds.
pub fn retry_recharges(
    tx: &mut Transaction<'_>,
    recharges: &[String],
    terms: &RetryTerms,
    audit: &Audit<'_>,
) -> Result<Vec<Outcome>> {
    let rows = tx.query(
        sql::REPAIR_RETRY_RECHARGES,
        &[
            &recharges,
            &terms.attestations_json(),
            &audit.operator,
            &audit.reason,
            &audit.command,
            &terms.trust_app_evidence,
        ],
    )?;
    Outcome::all(&rows)
}
