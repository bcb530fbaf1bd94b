//! `credits install`'s operation over the engine: what is pending, what a
//! precondition blocks, the adapter rebuilt for a changed app, the pending
//! migrations rehearsed (a dry run, or the check before a real run) and
//! applied, and the report of what each did.

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::WriteOpts;
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::kept;
use crate::output::{Report, Section, note};
use crate::profile::{self, Profile};

use super::{Applied, Migration, Rehearsal};

/// What one migration came to in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Applied(i64),
    AppliedConcurrently,
    WouldApply,
    Blocked,
    WouldBeBlocked,
    WouldFail,
}

impl Step {
    fn label(self) -> &'static str {
        match self {
            Step::Applied(_) => "applied",
            Step::AppliedConcurrently => "already applied by a concurrent install",
            Step::WouldApply => "would apply",
            Step::Blocked => "blocked",
            Step::WouldBeBlocked => "would be blocked",
            Step::WouldFail => "would FAIL",
        }
    }
}

/// The database as `install` finds it.
pub struct Install {
    migrations: Vec<Migration>,
    profile: Profile,
    applied: Vec<Applied>,
    /// The adapter was built before, from this profile checksum.
    stored: Option<String>,
    dry_run: bool,
    steps: Vec<(usize, Step)>,
    /// Migrations left pending, with their obstacles.
    blocked: Vec<(usize, Vec<String>)>,
    /// Pending, not blocked: to apply (indexes into `migrations`).
    applicable: Vec<usize>,
    /// The kept facts built by this run.
    kept_built: Option<kept::Built>,
}

impl Install {
    /// Reads the profile, the history and each pending migration's
    /// obstacles. An applied migration changed since is an error (exit 1):
    /// nothing is applied over it.
    pub fn read(db: &mut Db, dry_run: bool) -> Result<Install> {
        let migrations = super::embedded()?;
        let config = db.config.clone();
        let (profile, stored, applied) = {
            let mut tx = db.read_only()?;
            let profile = profile::detect(&mut tx, config.as_deref())?;
            let stored = profile::stored_checksum(&mut tx)?;
            let applied = super::history(&mut tx)?;
            tx.commit()?;
            (profile, stored, applied)
        };
        let drifted: Vec<String> = migrations
            .iter()
            .filter(|m| {
                applied
                    .iter()
                    .any(|a| a.version == m.version && a.checksum != m.checksum)
            })
            .map(|m| m.to_string())
            .collect();
        if !drifted.is_empty() {
            return Err(fail(
                Code::ProblemsFound,
                format!(
                    "applied migrations differ from this binary's: {}. Nothing was applied; \
                     see `credits status` and restore the original files before installing.",
                    drifted.join(", ")
                ),
            ));
        }
        let mut install = Install {
            migrations,
            profile,
            applied,
            stored,
            dry_run,
            steps: Vec::new(),
            blocked: Vec::new(),
            applicable: Vec::new(),
            kept_built: None,
        };
        // A migration whose precondition finds obstacles is left pending,
        // and listed; the others go ahead (a blocked one must be optional).
        // Before the first install there is no adapter to check against: the
        // precondition is checked again right before the migration runs.
        for i in 0..install.migrations.len() {
            let m = &install.migrations[i];
            if install.applied.iter().any(|a| a.version == m.version) {
                continue;
            }
            let obstacles = if install.stored.is_some() {
                super::obstacles(db, m)?
            } else {
                Vec::new()
            };
            if obstacles.is_empty() {
                install.applicable.push(i);
            } else {
                install.block(i, obstacles);
            }
        }
        if install.profile.json["roles"]
            .get("webhook_events")
            .is_none()
        {
            note(
                "public.stripe_webhook_event does not exist: nothing to index; the checks that need stored webhook events are skipped",
            );
        }
        Ok(install)
    }

    fn block(&mut self, i: usize, obstacles: Vec<String>) {
        let step = if self.dry_run {
            Step::WouldBeBlocked
        } else {
            Step::Blocked
        };
        self.steps.push((i, step));
        self.blocked.push((i, obstacles));
    }

    /// When the app (or the mapping file) changed since the adapter was
    /// built: rebuilds it (a dry run says so).
    pub fn rebuild_adapter(&self, db: &mut Db, write: &WriteOpts) -> Result<()> {
        let changed = self
            .stored
            .as_ref()
            .is_some_and(|s| *s != self.profile.checksum);
        if !changed {
            return Ok(());
        }
        if self.dry_run {
            note(
                "dry run: the app profile changed since the last install; the adapter would be rebuilt",
            );
            return Ok(());
        }
        confirm(
            write,
            &db.target,
            "rebuild the adapter for the changed app profile",
        )?;
        super::rebuild_adapter(
            db,
            &self.profile,
            (&self.migrations, &self.applied),
            &write.operator,
            write.reason.as_deref(),
        )?;
        note("the app profile changed: the adapter views, statements and indexes were rebuilt");
        Ok(())
    }

    /// Rehearses the pending migrations in a transaction that is rolled
    /// back. In a dry run, reports what each would do; before a real run,
    /// stops at the first that would fail, before anything is applied.
    /// Returns the failure of a dry run, to report after the table.
    pub fn rehearse(&mut self, db: &mut Db) -> Result<Option<String>> {
        if self.applicable.is_empty() {
            note(format!(
                "nothing to apply: {} of {} migrations are applied",
                self.migrations.len() - self.blocked.len(),
                self.migrations.len()
            ));
            return Ok(None);
        }
        let pending: Vec<&Migration> = self
            .applicable
            .iter()
            .map(|&i| &self.migrations[i])
            .collect();
        let rehearsal = super::rehearse(db, &pending, &self.profile)?;
        let mut failed = None;
        for (&i, outcome) in self.applicable.clone().iter().zip(rehearsal) {
            let m = &self.migrations[i];
            match outcome {
                Rehearsal::Fails(error) if !self.dry_run => {
                    return Err(fail(
                        Code::Contract,
                        format!(
                            "{m} would fail on this database: {error}. Nothing was applied; \
                             see `credits profile` for how this app was mapped."
                        ),
                    ));
                }
                Rehearsal::Fails(error) => {
                    failed = Some(format!("{m} would fail: {error}"));
                    self.steps.push((i, Step::WouldFail));
                }
                Rehearsal::Blocked(obstacles) => {
                    self.applicable.retain(|&j| j != i);
                    self.block(i, obstacles);
                }
                Rehearsal::Applies(statements) if self.dry_run => {
                    self.steps.push((i, Step::WouldApply));
                    for statement in statements {
                        note(format!("  V{:03} would run: {statement}", m.version));
                    }
                }
                Rehearsal::Applies(_) => {}
            }
        }
        if self.dry_run {
            note(
                "dry run: every pending migration was run in a transaction that was rolled back \
                 (indexes: only their statements were generated); nothing was written",
            );
        }
        Ok(failed)
    }

    /// Applies the pending migrations in order, after the confirmation;
    /// each with its history row, under the install lock.
    /// Then builds the kept facts (V019) when they are not usable.
    pub fn apply(&mut self, db: &mut Db, write: &WriteOpts) -> Result<()> {
        let build = self.kept_facts_to_build(db)?;
        if self.applicable.is_empty() && build.is_none() {
            return Ok(());
        }
        note("Plan:");
        for &i in &self.applicable {
            let m = &self.migrations[i];
            let mode = if m.transactional {
                ""
            } else {
                " (outside a transaction)"
            };
            note(format!("  apply {m}{mode}"));
        }
        if let Some(why) = &build {
            note(format!("  build the kept facts ({why})"));
        }
        let mut what = vec![];
        if !self.applicable.is_empty() {
            what.push(format!("apply {} migration(s)", self.applicable.len()));
        }
        if build.is_some() {
            what.push("build the kept facts".to_string());
        }
        confirm(write, &db.target, &what.join(", then "))?;
        self.apply_migrations(db, write)?;
        if build.is_some() && self.kept_facts_to_build(db)?.is_some() {
            let built = kept::build(db)?;
            note(format!(
                "kept facts built in {:.1} s: {} recharge(s) and {} user(s) that are not plainly settled",
                built.seconds, built.recharges, built.users
            ));
            self.kept_built = Some(built);
        }
        Ok(())
    }

    /// In a dry run: whether the kept facts would be built, and why.
    pub fn tell_kept_facts(&self, db: &mut Db) -> Result<()> {
        if let Some(why) = self.kept_facts_to_build(db)? {
            note(format!(
                "dry run: the kept facts would be built ({why}); it reads every recharge and \
                 ledger row once, locking none"
            ));
        }
        Ok(())
    }

    /// Why the kept facts must be built: V019 is about to be applied, or
    /// they are not built, or were invalidated. None when they are usable
    /// or V019 is left pending.
    fn kept_facts_to_build(&self, db: &mut Db) -> Result<Option<String>> {
        let Some(kept) = self
            .migrations
            .iter()
            .position(|m| m.name == kept::MIGRATION)
        else {
            return Ok(None);
        };
        let version = self.migrations[kept].version;
        if self.applied.iter().any(|a| a.version == version) || self.steps_applied(kept) {
            return kept::needs_build(db);
        }
        Ok(self
            .applicable
            .contains(&kept)
            .then(|| "they are new in this version".to_string()))
    }

    fn steps_applied(&self, i: usize) -> bool {
        self.steps.iter().any(|(j, step)| {
            *j == i && matches!(step, Step::Applied(_) | Step::AppliedConcurrently)
        })
    }

    fn apply_migrations(&mut self, db: &mut Db, write: &WriteOpts) -> Result<()> {
        if self.applicable.is_empty() {
            return Ok(());
        }
        super::create_history(db)?;
        for (done, &i) in self.applicable.clone().iter().enumerate() {
            let m = &self.migrations[i];
            let late = super::obstacles(db, m)?;
            if !late.is_empty() {
                self.block(i, late);
                continue;
            }
            let outcome = super::apply(
                db,
                m,
                &self.profile,
                &write.operator,
                write.reason.as_deref(),
            )
            .with_context(|| {
                let before: Vec<String> = self.applicable[..done]
                    .iter()
                    .map(|&j| format!("V{:03}", self.migrations[j].version))
                    .collect();
                format!(
                    "{m} failed and was not recorded; applied before it in this run: {}. \
                         Fix the cause and run `credits install` again",
                    if before.is_empty() {
                        "none".to_string()
                    } else {
                        before.join(", ")
                    }
                )
            })?;
            self.steps
                .push((i, outcome.map_or(Step::AppliedConcurrently, Step::Applied)));
        }
        Ok(())
    }

    pub fn report(&self, database: String) -> Report {
        let mut section = Section::new(
            "migrations",
            "Migrations",
            &[
                "version",
                "name",
                "in_transaction",
                "action",
                "execution_ms",
            ],
        );
        let mut steps = self.steps.clone();
        steps.sort_by_key(|(i, _)| self.migrations[*i].version);
        for (i, step) in steps {
            let m = &self.migrations[i];
            section.push(vec![
                Value::from(m.version),
                m.name.clone().into(),
                m.transactional.into(),
                step.label().into(),
                match step {
                    Step::Applied(ms) => Value::from(ms),
                    _ => Value::Null,
                },
            ]);
        }
        let mut report = Report::new("install");
        report.field("database", database);
        report.field("dry_run", self.dry_run);
        if let Some(built) = &self.kept_built {
            report.field("kept_facts_build_seconds", built.seconds);
            report.field("kept_facts_recharges", built.recharges);
            report.field("kept_facts_users", built.users);
        }
        report.sections.push(section);
        report
    }

    /// On stderr, loudly: the migrations left pending and why. Only optional
    /// ones get here (the commands work without them), so the install
    /// itself succeeded.
    pub fn tell_blocked(&self) {
        for (i, obstacles) in &self.blocked {
            let m = &self.migrations[*i];
            let shown: Vec<&str> = obstacles.iter().take(20).map(String::as_str).collect();
            let more = obstacles.len().saturating_sub(shown.len());
            note(format!(
                "{m} is left pending: {} obstacle(s){}:\n  {}\n\
                 It is optional: every command works without it; see the comment at the top of \
                 sql/migrations/{}.",
                obstacles.len(),
                if more > 0 {
                    format!(" (first {})", shown.len())
                } else {
                    String::new()
                },
                shown.join("\n  "),
                m.file()
            ));
        }
    }
}
