//! `fix-user`'s operation: the repair of one user through
//! `credits_ops.fix_users`, the same function bulk-fix uses in batches.
//!
//! The plan is the repair itself, run in a transaction that is rolled back:
//! exactly what would change, with no second copy of the logic. The real run
//! starts a new transaction after the confirmation, so no lock is held while
//! a person reads the plan; what it did is reported from its own results.

use anyhow::{Context, Result};
use postgres::Transaction;

use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::{Report, Section, note};
use crate::scope;
use crate::sql;

use super::{Audit, Outcome, Tally, fix_users, stripe};

/// What the repair did (or would do) to one user.
pub struct UserRepair {
    pub user_id: String,
    pub outcomes: Vec<Outcome>,
    /// (cached balance, ledger sum) before and after.
    pub before: (Option<i64>, i64),
    pub after: (Option<i64>, i64),
}

/// How the user is repaired.
pub struct Terms<'a> {
    pub audit: Audit<'a>,
    pub reverse_duplicates: bool,
    pub stripe: Option<stripe::Verdicts>,
}

impl UserRepair {
    /// The repair of the user `subject` names (an id, an email or a
    /// payment intent), run and rolled back; asked to, Stripe decides what
    /// may be credited and the plan is made again with its verdicts.
    pub fn plan(
        db: &mut Db,
        subject: &str,
        terms: &mut Terms<'_>,
        evidence: &crate::cli::StripeEvidence,
    ) -> Result<UserRepair> {
        let mut plan = {
            let mut tx = db.transaction()?;
            let user_id = scope::resolve_subject(&mut tx, subject)?;
            let plan = repair(&mut tx, &user_id, terms)?;
            tx.rollback()?;
            plan
        };
        terms.stripe = stripe::judge(evidence, db, &plan.outcomes)?;
        if terms.stripe.is_some() {
            let mut tx = db.transaction()?;
            plan = repair(&mut tx, &plan.user_id, terms)?;
            tx.rollback()?;
        }
        Ok(plan)
    }

    pub fn changes(&self) -> u64 {
        Tally::of(&self.outcomes).changes()
    }

    /// On stderr before the confirmation: every change.
    pub fn tell_plan(&self) {
        note("Plan:");
        for o in self.outcomes.iter().filter(|o| o.action.is_change()) {
            note(format!(
                "  {} {}: {} ({})",
                o.action,
                o.recharge_id.as_deref().unwrap_or("balance"),
                o.credits.unwrap_or(0),
                o.detail
            ));
        }
    }

    /// The repair for real, in one transaction.
    pub fn apply(&self, db: &mut Db, terms: &Terms<'_>) -> Result<UserRepair> {
        let mut tx = db.transaction()?;
        let done = repair(&mut tx, &self.user_id, terms)?;
        tx.commit()
            .context("committing the repair; nothing was changed")?;
        Ok(done)
    }

    pub fn report(&self, database: String, dry_run: bool) -> Report {
        let mut balance = Section::new("balance", "Balance", &["when", "balance", "ledger_sum"]);
        for (when, (cached, ledger)) in [("before", self.before), ("after", self.after)] {
            balance.push(vec![when.into(), cached.into(), ledger.into()]);
        }
        let mut actions = Section::new(
            "actions",
            "What happened",
            &["recharge_id", "action", "credits", "detail"],
        );
        for o in &self.outcomes {
            actions.push(vec![
                o.recharge_id.clone().into(),
                o.action.shown(dry_run).into(),
                o.credits.into(),
                o.detail.clone().into(),
            ]);
        }
        let mut report = Report::new("fix-user");
        report.field("database", database);
        report.field("user_id", self.user_id.clone());
        report.field("dry_run", dry_run);
        report.field("changes", self.changes());
        report.sections = vec![actions, balance];
        report
    }
}

fn repair(tx: &mut Transaction<'_>, user_id: &str, terms: &Terms<'_>) -> Result<UserRepair> {
    let before = ledger(tx, user_id)?;
    let outcomes = fix_users(
        tx,
        &[user_id],
        None,
        &terms.audit,
        terms.reverse_duplicates,
        false,
        terms.stripe.as_ref(),
    )
    .map_err(|error| explain_lock(error, user_id))?;
    let after = ledger(tx, user_id)?;
    Ok(UserRepair {
        user_id: user_id.to_string(),
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
