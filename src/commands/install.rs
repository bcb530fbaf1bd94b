//! `credits install`: apply the pending migrations, each atomically with its
//! history row, serialised by an advisory lock.

use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use postgres::{SimpleQueryMessage, Transaction};
use serde_json::Value;

use crate::cli::{Format, InstallArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::migrations::{self, Migration};
use crate::output::{Report, Section, note};
use crate::profile::{self, Profile};
use crate::sql;

pub fn run(db: &mut Db, args: &InstallArgs, format: Format) -> Result<Code> {
    let migrations = migrations::embedded()?;
    let config = db.config.clone();
    let (profile, stored, applied) = {
        let mut tx = db.read_only()?;
        let profile = profile::detect(&mut tx, config.as_deref())?;
        let stored = profile::stored_checksum(&mut tx)?;
        let applied = migrations::history(&mut tx)?;
        tx.commit()?;
        (profile, stored, applied)
    };
    // The app (or the mapping file) changed since the adapter was built.
    let rebuild = stored.as_ref().is_some_and(|s| *s != profile.checksum);
    let drifted: Vec<String> = migrations
        .iter()
        .filter(|m| {
            applied
                .iter()
                .any(|a| a.version == m.version && a.checksum != m.checksum)
        })
        .map(|m| format!("V{:03} {}", m.version, m.name))
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
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect();

    let mut report = Report::new("install");
    report.field("database", db.target.to_string());
    report.field("dry_run", args.write.dry_run);
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
    let row = |m: &Migration, action: &str, ms: Option<i64>| {
        vec![
            Value::from(m.version),
            m.name.clone().into(),
            m.transactional.into(),
            action.into(),
            ms.map_or(Value::Null, Value::from),
        ]
    };

    // A migration whose precondition finds obstacles is left pending, and
    // listed; the others go ahead (a blocked one must be optional).
    let mut blocked: Vec<(&Migration, Vec<String>)> = Vec::new();
    let mut applicable: Vec<&Migration> = Vec::new();
    let adapter_built = stored.is_some();
    for m in pending {
        // Before the first install there is no adapter to check against: the
        // precondition is checked again right before the migration runs.
        let obstacles = if adapter_built {
            obstacles(db, m)?
        } else {
            Vec::new()
        };
        if obstacles.is_empty() {
            applicable.push(m);
        } else {
            section.push(row(
                m,
                if args.write.dry_run {
                    "would be blocked"
                } else {
                    "blocked"
                },
                None,
            ));
            blocked.push((m, obstacles));
        }
    }

    if profile.json["roles"].get("webhook_events").is_none() {
        note(
            "public.stripe_webhook_event does not exist: nothing to index; the checks that need stored webhook events are skipped",
        );
    }
    if rebuild {
        if args.write.dry_run {
            note(
                "dry run: the app profile changed since the last install; the adapter would be rebuilt",
            );
        } else {
            confirm(
                &args.write,
                &format!(
                    "rebuild the adapter for the changed app profile on {}",
                    db.target
                ),
            )?;
            rebuild_adapter(db, &profile, &migrations, &applied)?;
            note("the app profile changed: the adapter views, statements and indexes were rebuilt");
        }
    }
    if applicable.is_empty() {
        note(format!(
            "nothing to apply: {} of {} migrations are applied",
            migrations.len() - blocked.len(),
            migrations.len()
        ));
    } else if args.write.dry_run {
        let rehearsal = rehearse(db, &applicable, &profile)?;
        let mut failed = None;
        for (m, outcome) in applicable.iter().zip(&rehearsal) {
            match outcome {
                Rehearsal::Applies(statements) => {
                    section.push(row(m, "would apply", None));
                    for statement in statements {
                        note(format!("  V{:03} would run: {statement}", m.version));
                    }
                }
                Rehearsal::Blocked(obstacles) => {
                    section.push(row(m, "would be blocked", None));
                    blocked.push((m, obstacles.clone()));
                }
                Rehearsal::Fails(error) => {
                    section.push(row(m, "would FAIL", None));
                    failed = Some(format!("V{:03} {} would fail: {error}", m.version, m.name));
                }
            }
        }
        note(
            "dry run: every pending migration was run in a transaction that was rolled back \
             (indexes: only their statements were generated); nothing was written",
        );
        if let Some(failed) = failed {
            section.rows.sort_by_key(|row| row[0].as_i64());
            report.sections.push(section);
            report.print(format)?;
            return Err(fail(
                Code::Contract,
                format!(
                    "{failed}. Nothing was written; see `credits profile` for how this app was mapped."
                ),
            ));
        }
    } else {
        // Rehearse first: a migration that would fail on this app is found
        // before anything is applied, so a failed install changes nothing.
        for (m, outcome) in applicable.iter().zip(rehearse(db, &applicable, &profile)?) {
            if let Rehearsal::Fails(error) = outcome {
                return Err(fail(
                    Code::Contract,
                    format!(
                        "V{:03} {} would fail on this database: {error}. Nothing was applied; \
                         see `credits profile` for how this app was mapped.",
                        m.version, m.name
                    ),
                ));
            }
        }
        print_plan(&applicable);
        confirm(
            &args.write,
            &format!("apply {} migration(s) to {}", applicable.len(), db.target),
        )?;
        create_history(db)?;
        for (done, m) in applicable.iter().enumerate() {
            let late = obstacles(db, m)?;
            if !late.is_empty() {
                section.push(row(m, "blocked", None));
                blocked.push((m, late));
                continue;
            }
            let outcome = apply(
                db,
                m,
                &profile,
                &args.write.operator,
                args.write.reason.as_deref(),
            )
            .with_context(|| {
                let before: Vec<String> = applicable[..done]
                    .iter()
                    .map(|m| format!("V{:03}", m.version))
                    .collect();
                format!(
                    "V{:03} {} failed and was not recorded; applied before it in this run: {}. \
                         Fix the cause and run `credits install` again",
                    m.version,
                    m.name,
                    if before.is_empty() {
                        "none".to_string()
                    } else {
                        before.join(", ")
                    }
                )
            })?;
            section.push(match outcome {
                Some(ms) => row(m, "applied", Some(ms)),
                None => row(m, "already applied by a concurrent install", None),
            });
        }
    }
    section.rows.sort_by_key(|row| row[0].as_i64());
    report.sections.push(section);
    report.print(format)?;
    // Only optional migrations get here blocked (the commands work without
    // them), so the install itself succeeded: exit 0, and say it loudly.
    for (m, obstacles) in &blocked {
        let shown: Vec<&str> = obstacles.iter().take(20).map(String::as_str).collect();
        let more = obstacles.len().saturating_sub(shown.len());
        note(format!(
            "V{:03} {} is left pending: {} obstacle(s){}:\n  {}\n\
             It is optional: every command works without it; see the comment at the top of \
             sql/migrations/V{:03}__{}.sql.",
            m.version,
            m.name,
            obstacles.len(),
            if more > 0 {
                format!(" (first {})", shown.len())
            } else {
                String::new()
            },
            shown.join("\n  "),
            m.version,
            m.name
        ));
    }
    Ok(Code::Ok)
}

/// What a dry run predicts for one pending migration.
enum Rehearsal {
    /// With the statements a generated migration would run.
    Applies(Vec<String>),
    Blocked(Vec<String>),
    Fails(String),
}

/// Runs the pending migrations, in order, in one transaction that is always
/// rolled back, so a dry run predicts failures and blocked preconditions on
/// this very database. A migration that cannot run in a transaction (an
/// index built CONCURRENTLY) is not run: its statements are generated and
/// shown. Stops at the first failure; the ones after it are not predicted.
fn rehearse(db: &mut Db, pending: &[&Migration], profile: &Profile) -> Result<Vec<Rehearsal>> {
    // Under the install lock, so a concurrent install's schema is not raced;
    // in a savepoint that is rolled back, so the lock's commit keeps nothing.
    with_install_lock(db, |locked| {
        let mut tx = locked.transaction()?;
        let outcomes = rehearse_in(&mut tx, pending, profile)?;
        tx.rollback()?;
        Ok(outcomes)
    })
}

fn rehearse_in(
    tx: &mut Transaction<'_>,
    pending: &[&Migration],
    profile: &Profile,
) -> Result<Vec<Rehearsal>> {
    tx.batch_execute(sql::file("install/schema_history.sql"))?;
    let json = profile.json.to_string();
    tx.execute(
        sql::file("profile/settings.sql"),
        &[&json, &profile.checksum],
    )?;
    let mut outcomes = Vec::new();
    for m in pending {
        // A concurrent install may have applied it since this one planned.
        if !is_pending(tx, m)? {
            outcomes.push(Rehearsal::Applies(Vec::new()));
            continue;
        }
        if let Some(precondition) = m.precondition {
            let obstacles: Vec<String> = match tx.query(precondition, &[]) {
                Ok(rows) => rows.iter().map(|row| row.get("obstacle")).collect(),
                Err(error) => {
                    outcomes.push(Rehearsal::Fails(format!(
                        "{:#}",
                        anyhow::Error::from(error)
                    )));
                    break;
                }
            };
            if !obstacles.is_empty() {
                outcomes.push(Rehearsal::Blocked(obstacles));
                continue;
            }
        }
        let result = if m.transactional {
            tx.batch_execute(m.sql).map(|_| Vec::new())
        } else if m.generated {
            tx.simple_query(m.sql).map(|messages| {
                messages
                    .iter()
                    .filter_map(|message| match message {
                        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                        _ => None,
                    })
                    .collect()
            })
        } else {
            Ok(Vec::new())
        };
        match result {
            Ok(statements) => outcomes.push(Rehearsal::Applies(statements)),
            Err(error) => {
                outcomes.push(Rehearsal::Fails(format!(
                    "{:#}",
                    anyhow::Error::from(error)
                )));
                break;
            }
        }
    }
    Ok(outcomes)
}

/// What stops a migration with a precondition from being applied, one line
/// each (none: go ahead).
fn obstacles(db: &mut Db, m: &Migration) -> Result<Vec<String>> {
    let Some(precondition) = m.precondition else {
        return Ok(Vec::new());
    };
    let mut tx = db.read_only()?;
    let rows = tx.query(precondition, &[])?;
    tx.commit()?;
    Ok(rows.iter().map(|row| row.get("obstacle")).collect())
}

fn print_plan(pending: &[&Migration]) {
    note("Plan:");
    for m in pending {
        let mode = if m.transactional {
            ""
        } else {
            " (outside a transaction)"
        };
        note(format!("  apply V{:03} {}{mode}", m.version, m.name));
    }
}

/// Applies one migration under the install lock. Returns its execution time,
/// or None when a concurrent install applied it first.
fn apply(
    db: &mut Db,
    m: &Migration,
    profile: &Profile,
    operator: &str,
    reason: Option<&str>,
) -> Result<Option<i64>> {
    if m.transactional {
        return with_install_lock(db, |tx| {
            if !is_pending(tx, m)? {
                return Ok(None);
            }
            let started = Instant::now();
            if m.reads_profile {
                let json = profile.json.to_string();
                tx.execute(
                    sql::file("profile/settings.sql"),
                    &[&json, &profile.checksum],
                )?;
            }
            tx.batch_execute(m.sql)?;
            let ms = started.elapsed().as_millis() as i64;
            record(tx, m, operator, reason, ms)?;
            Ok(Some(ms))
        });
    }
    // `CREATE INDEX CONCURRENTLY` cannot run in a transaction, and waits for
    // every transaction that holds a snapshot. So a second connection holds
    // the install lock in a transaction that keeps no snapshot and locks no
    // app table, while this connection checks the history in a short
    // transaction of its own and then builds.
    let mut holder = db.reconnect()?;
    with_install_lock(&mut holder, |lock| {
        let pending = {
            let mut tx = db.read_only()?;
            let pending = is_pending(&mut tx, m)?;
            tx.commit()?;
            pending
        };
        if !pending {
            return Ok(None);
        }
        let started = Instant::now();
        run_outside_transaction(db, m)?;
        let ms = started.elapsed().as_millis() as i64;
        record(lock, m, operator, reason, ms)?;
        Ok(Some(ms))
    })
}

/// Runs a migration that cannot be in a transaction. A generated one is a
/// query whose rows are the statements to run, for this app's names.
fn run_outside_transaction(db: &mut Db, m: &Migration) -> Result<()> {
    if !m.generated {
        return Ok(db.client().batch_execute(m.sql)?);
    }
    let statements: Vec<String> = db
        .client()
        .simple_query(m.sql)?
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    for statement in statements {
        let started = Instant::now();
        db.client()
            .batch_execute(&statement)
            .with_context(|| format!("running {statement}"))?;
        note(format!(
            "  {statement} ({} ms)",
            started.elapsed().as_millis()
        ));
    }
    Ok(())
}

/// Rebuilds the adapter from a changed profile, under the install lock, and
/// runs the applied generated migrations again for the new names (each of
/// their statements is idempotent).
fn rebuild_adapter(
    db: &mut Db,
    profile: &Profile,
    migrations: &[Migration],
    applied: &[migrations::Applied],
) -> Result<()> {
    with_install_lock(db, |tx| {
        let json = profile.json.to_string();
        tx.execute(sql::file("profile/store.sql"), &[&json, &profile.checksum])?;
        Ok(())
    })?;
    for m in migrations
        .iter()
        .filter(|m| m.generated && applied.iter().any(|a| a.version == m.version))
    {
        run_outside_transaction(db, m)?;
    }
    Ok(())
}

/// Applies an on-demand migration (`-- credits:on-demand`, e.g. V010 by
/// `credits rls-fix`) with the install machinery: under the install lock, in
/// one transaction with its history row (written only the first time) and
/// whatever `work` does. `work` runs the migration's SQL itself, so it can
/// set what the file reads first and record what it did after.
pub fn apply_on_demand<T>(
    db: &mut Db,
    m: &Migration,
    operator: &str,
    reason: Option<&str>,
    work: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
) -> Result<T> {
    create_history(db)?;
    with_install_lock(db, |tx| {
        let pending = is_pending(tx, m)?;
        let started = Instant::now();
        let result = work(tx)?;
        if pending {
            let ms = started.elapsed().as_millis() as i64;
            record(tx, m, operator, reason, ms)?;
        }
        Ok(result)
    })
}

/// Creates schema `credits_ops` and its history table if missing, under the
/// install lock, in a transaction of its own.
fn create_history(db: &mut Db) -> Result<()> {
    with_install_lock(db, |tx| {
        Ok(tx.batch_execute(sql::file("install/schema_history.sql"))?)
    })
}

/// Runs `work` in a transaction holding the install lock, and commits.
///
/// While another install holds the lock, this one rolls back and retries
/// rather than waiting inside a transaction: the other install's
/// `CREATE INDEX CONCURRENTLY` waits for every transaction with a snapshot,
/// so a waiting transaction would stall it. The lock is tried with a simple
/// query, which also drops the unnamed portal (and its snapshot) of the
/// statement before it. Gives up after --statement-timeout.
fn with_install_lock<T>(
    db: &mut Db,
    work: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + db.statement_timeout;
    let mut told = false;
    loop {
        let mut tx = db.transaction()?;
        let locked = tx.simple_query(sql::file("install/try_lock.sql"))?.iter().any(|message| {
            matches!(message, SimpleQueryMessage::Row(row) if row.get(0) == Some("t"))
        });
        if locked {
            let result = work(&mut tx)?;
            tx.commit()?;
            return Ok(result);
        }
        tx.rollback()?;
        if Instant::now() > deadline {
            return Err(fail(
                Code::Database,
                "another `credits install` held the install lock for longer than --statement-timeout; \
                 nothing more was applied. Wait for it to finish (see pg_stat_activity, \
                 application_name = 'credits'), or raise --statement-timeout",
            ));
        }
        if !told {
            note("waiting for another `credits install` on this database to finish...");
            told = true;
        }
        sleep(Duration::from_millis(200));
    }
}

/// False when another install applied the migration since this one planned.
fn is_pending(tx: &mut Transaction<'_>, m: &Migration) -> Result<bool> {
    let applied = migrations::history(tx)?;
    Ok(!applied.iter().any(|a| a.version == m.version))
}

fn record(
    tx: &mut Transaction<'_>,
    m: &Migration,
    operator: &str,
    reason: Option<&str>,
    ms: i64,
) -> Result<()> {
    tx.execute(
        sql::file("install/record.sql"),
        &[&m.version, &m.name, &m.checksum, &operator, &reason, &ms],
    )?;
    Ok(())
}
