//! `bulk-fix`'s operation: the affected users of a window, what Stripe says
//! of what their repair would credit (where asked), the fix-user repair in
//! time-sized batches that skip rows someone else holds, and the report.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use crate::cli::StripeEvidence;
use crate::db::Db;
use crate::kept::{self, Facts};
use crate::output::{Report, Section, note};
use crate::scope::Scope;
use crate::sql;

use super::{Action, Audit, Tally, batches, fix_users, stripe};

/// The users to repair, each with the recharges its repair looks at, and
/// what crediting their completed recharges grants.
pub struct Affected {
    pub since: DateTime<Utc>,
    pub planned_credits: i64,
    /// Each user's entry, one after the other: its id, then its planned
    /// recharges' ids, each ended by a NUL (which PostgreSQL's text cannot
    /// hold). One string: at 10M recharges there are about 400,000 users
    /// and 540,000 planned recharges, where a `String` each takes about
    /// twice the room.
    entries: String,
    /// Where each user's entry ends in `entries`.
    ends: Vec<usize>,
}

/// One affected user: its id, and the recharges of it the plan found to
/// credit, complete, reverse or report (sql/repair/affected_users.sql).
#[derive(Clone, Copy)]
pub struct PlannedUser<'a>(&'a str);

impl<'a> PlannedUser<'a> {
    fn user(self) -> &'a str {
        self.0.split('\0').next().unwrap_or_default()
    }

    fn recharges(self) -> impl Iterator<Item = &'a str> {
        self.0.split_terminator('\0').skip(1)
    }
}

impl batches::Item for PlannedUser<'_> {
    fn id(&self) -> &str {
        self.user()
    }
}

impl Affected {
    /// Read row by row: at 10M recharges there are 430,000 users, and the
    /// whole result held as rows next to their ids was most of bulk-fix's
    /// memory. From the kept facts unless `rescan` or they cannot be used,
    /// folding the app's pending changes into them first unless `fold` is
    /// false (a dry run writes nothing, not even there; the read gives the
    /// same users). Page by page, each a range of users in a read-only
    /// snapshot of its own, sized by time as the batches are (`pages`
    /// counts kept recharge facts): a monitor of long transactions cannot
    /// tell a snapshot from one holding row locks. The ranges do not
    /// overlap, so no user is planned twice; a user changed between pages
    /// is repaired as its batch finds it under lock, as after one read.
    /// From the tables, one page: each would read them whole.
    pub fn read(
        db: &mut Db,
        since: DateTime<Utc>,
        reverse_duplicates: bool,
        fold: bool,
        rescan: bool,
        pages: batches::Sizing,
    ) -> Result<Affected> {
        let mut affected = Affected {
            since,
            planned_credits: 0,
            entries: String::new(),
            ends: Vec::new(),
        };
        if fold {
            kept::refresh(db, kept::REFRESH_BUDGET);
        }
        let mut after: Option<String> = None;
        let mut page = Some(pages.first());
        let mut small_and_slow = false;
        loop {
            let started = Instant::now();
            let Some(end) =
                affected.read_page(db, reverse_duplicates, rescan, after.as_deref(), page)?
            else {
                break;
            };
            after = Some(end);
            let elapsed = started.elapsed();
            // Two pages this small in a row that outlast the aim took their
            // read's fixed cost (the app's changes not folded yet, which every
            // page computes afresh), not a cold cache's: smaller pages cannot
            // help, the rest is one read.
            let slow = page.is_some_and(|size| size <= pages.first()) && elapsed > pages.aim();
            page = if slow && small_and_slow {
                None
            } else {
                page.map(|size| pages.next(size, elapsed))
            };
            small_and_slow = slow;
        }
        affected.entries.shrink_to_fit();
        affected.ends.shrink_to_fit();
        Ok(affected)
    }

    /// Reads the users after `after` up to the end of a page of `page` kept
    /// recharge facts (None: all the rest), and returns that end (None: this
    /// was the last page).
    fn read_page(
        &mut self,
        db: &mut Db,
        reverse_duplicates: bool,
        rescan: bool,
        after: Option<&str>,
        page: Option<usize>,
    ) -> Result<Option<String>> {
        let mut tx = db.snapshot()?;
        // The window in the scope settings the facts read; stuck-after unused.
        Scope::window(self.since, Duration::from_secs(3600)).apply(&mut tx)?;
        let facts = kept::source(&mut tx, rescan)?;
        let end: Option<String> = match (&facts, page) {
            (Facts::Kept { .. }, Some(page)) => tx
                .query_opt(
                    sql::REPAIR_AFFECTED_USERS_PAGE_END,
                    &[&after, &i64::try_from(page).unwrap_or(i64::MAX)],
                )
                .context("finding the plan's next page (sql/repair/affected_users_page_end.sql)")?
                .and_then(|row| row.get(0)),
            (Facts::Kept { .. }, None) => None,
            (Facts::Tables { .. }, _) => {
                tx.execute(sql::REPAIR_AFFECTED_USERS_SETTINGS, &[])?;
                None
            }
        };
        let statement = facts.over(sql::REPAIR_AFFECTED_USERS);
        let params: [&(dyn ToSql + Sync); 3] = [&reverse_duplicates, &after, &end];
        let mut rows = tx
            .query_raw(statement.as_str(), params)
            .context("reading the affected users (sql/repair/affected_users.sql)")?;
        while let Some(row) = rows.next()? {
            self.push(row.get("user_id"), row.get("recharges"));
            self.planned_credits += row.get::<_, i64>("credits");
        }
        drop(rows);
        tx.commit()?;
        Ok(end)
    }

    fn push(&mut self, user: &str, recharges: Vec<&str>) {
        for id in std::iter::once(user).chain(recharges) {
            self.entries.push_str(id);
            self.entries.push('\0');
        }
        self.ends.push(self.entries.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The users in the plan's order.
    pub fn users(&self) -> impl Iterator<Item = PlannedUser<'_>> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| PlannedUser(&self.entries[start..end]))
    }
}

/// How the users are repaired.
pub struct Terms<'a> {
    pub audit: Audit<'a>,
    pub reverse_duplicates: bool,
    pub sizing: batches::Sizing,
    /// False for a dry run: every batch is rolled back.
    pub commit: bool,
}

/// What a bulk repair did (or would do).
pub struct Done {
    pub tally: Tally,
    pub run: batches::Run,
    pub stripe: Option<stripe::Verdicts>,
}

/// Asked to (`--verify-with-stripe`, `--stripe-export`), what Stripe says of
/// every recharge the repair would credit: found by a first pass of the
/// repair, rolled back batch by batch, then judged before anything is
/// written. Then the repair, batch by batch.
pub fn repair(
    db: &mut Db,
    affected: &Affected,
    terms: &Terms<'_>,
    evidence: &StripeEvidence,
) -> Result<Done> {
    let stripe = if evidence.verify_with_stripe || evidence.stripe_export.is_some() {
        note("finding every recharge the repair would credit (a first pass, rolled back)");
        let mut to_credit = Vec::new();
        pass(db, affected, terms, false, None, |outcomes| {
            to_credit.extend(
                outcomes
                    .into_iter()
                    .filter(|o| o.action == Action::Credited),
            )
        })?;
        stripe::judge(evidence, db, &to_credit)?
    } else {
        None
    };
    let mut tally = Tally::default();
    let run = pass(
        db,
        affected,
        terms,
        terms.commit,
        stripe.as_ref(),
        |outcomes| tally.add(&outcomes),
    )?;
    Ok(Done { tally, run, stripe })
}

/// The fix-user repair of every affected user, batch by batch, each batch
/// committed or (`commit` false) rolled back; what each did goes to `sink`.
fn pass(
    db: &mut Db,
    affected: &Affected,
    terms: &Terms<'_>,
    commit: bool,
    stripe: Option<&stripe::Verdicts>,
    sink: impl FnMut(Vec<super::Outcome>),
) -> Result<batches::Run> {
    let users: Vec<PlannedUser<'_>> = affected.users().collect();
    batches::run(
        db,
        &users,
        terms.sizing,
        commit,
        "users",
        |tx, batch| {
            let ids: Vec<&str> = batch.iter().map(|u| u.user()).collect();
            let recharges: Vec<&str> = batch.iter().flat_map(|u| u.recharges()).collect();
            fix_users(
                tx,
                &ids,
                Some(&recharges),
                &terms.audit,
                terms.reverse_duplicates,
                true,
                stripe,
            )
        },
        sink,
    )
}

impl Done {
    pub fn report(&self, database: String, affected: &Affected, dry_run: bool) -> Report {
        let (tally, run, stripe) = (&self.tally, &self.run, &self.stripe);
        let (since, planned_credits) = (affected.since, affected.planned_credits);
        let mut summary = Section::new(
            "summary",
            if dry_run {
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
        report.field("database", database);
        report.field("since", crate::output::time(&since));
        report.field("dry_run", dry_run);
        report.field("affected_users", affected.len());
        report.field("planned_credits", planned_credits);
        run.report(&mut report);
        if let Some(stripe) = &stripe {
            if let Some(mode) = stripe.mode {
                report.field("stripe_mode", mode.label());
            }
            report.field("not_paid_in_stripe", tally.count(Action::NotPaidInStripe));
        }
        report.sections = vec![summary, left];
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batches::Item;

    #[test]
    fn each_user_comes_back_with_its_own_planned_recharges() {
        let mut affected = Affected {
            since: Utc::now(),
            planned_credits: 0,
            entries: String::new(),
            ends: Vec::new(),
        };
        affected.push("u1", vec!["r1", "r2"]);
        affected.push("u2", vec![]);
        affected.push("u3", vec!["r3"]);
        let users: Vec<(String, Vec<&str>)> = affected
            .users()
            .map(|u| (u.id().to_owned(), u.recharges().collect()))
            .collect();
        assert_eq!(
            users,
            vec![
                ("u1".to_owned(), vec!["r1", "r2"]),
                ("u2".to_owned(), vec![]),
                ("u3".to_owned(), vec!["r3"]),
            ]
        );
        assert_eq!(affected.len(), 3);
    }
}
