//! The versioned SQL of `sql/migrations/V<NNN>__<name>.sql` and its history
//! in `credits_ops.schema_history`.

pub mod install;
pub mod status;

use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use postgres::{GenericClient, SimpleQueryMessage, Transaction};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::note;
use crate::profile::Profile;
use crate::sql;

/// A file's first line that makes it run outside a transaction.
const NO_TRANSACTION: &str = "-- credits:no-transaction";
/// A header line: commands work while this migration is pending.
const OPTIONAL: &str = "-- credits:optional";
/// A header line naming a query (under sql/) whose rows are obstacles:
/// while it returns any, install leaves the migration pending and lists them.
const PRECONDITION: &str = "-- credits:precondition ";
/// A header line: `credits install` never applies this migration; a command
/// applies it on demand (V010 by `credits rls-fix`), through the same machinery.
const ON_DEMAND: &str = "-- credits:on-demand";
/// A header line: the file is a query returning the statements to run (one
/// `ddl` column), written for this app's names from the stored profile.
const GENERATED: &str = "-- credits:generated";
/// A header line of an on-demand migration: it is built from the stored app
/// profile, so `credits install` runs it again (it is idempotent) when it
/// rebuilds the adapter for a changed app, if it is applied.
const FOLLOWS_PROFILE: &str = "-- credits:follows-profile";
/// A header line: the file reads the app profile from the settings
/// credits.profile and credits.profile_checksum, set in its transaction.
const PROFILE: &str = "-- credits:profile";

pub struct Migration {
    pub version: i32,
    pub name: String,
    pub sql: &'static str,
    pub checksum: String,
    pub transactional: bool,
    pub optional: bool,
    pub precondition: Option<&'static str>,
    pub on_demand: bool,
    pub generated: bool,
    pub reads_profile: bool,
    pub follows_profile: bool,
}

/// As people and the history name it: `V004 indexes`.
impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V{:03} {}", self.version, self.name)
    }
}

impl Migration {
    /// Its file under `sql/migrations/`.
    pub fn file(&self) -> String {
        format!("V{:03}__{}.sql", self.version, self.name)
    }
}

/// One row of `credits_ops.schema_history`.
pub struct Applied {
    pub version: i32,
    pub name: String,
    pub checksum: String,
    pub applied_at: DateTime<Utc>,
    pub applied_by: String,
}

/// Every migration `credits install` applies, in version order (the
/// on-demand ones are left out: see [`on_demand`]).
pub fn embedded() -> Result<Vec<Migration>> {
    Ok(all()?.into_iter().filter(|m| !m.on_demand).collect())
}

/// The migrations marked `-- credits:on-demand`, applied by their command.
pub fn on_demand() -> Result<Vec<Migration>> {
    Ok(all()?.into_iter().filter(|m| m.on_demand).collect())
}

/// Every migration embedded in this binary, in version order.
fn all() -> Result<Vec<Migration>> {
    let mut migrations: BTreeMap<i32, Migration> = BTreeMap::new();
    for (file, text) in sql::dir("migrations") {
        let Some((version, name)) = parse_file_name(file) else {
            bail!("sql/migrations/{file} is not named V<NNN>__<name>.sql");
        };
        let header: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .take_while(|line| line.starts_with("--"))
            .collect();
        let migration = Migration {
            version,
            name: name.to_string(),
            sql: text,
            checksum: checksum(text),
            transactional: header.first() != Some(&NO_TRANSACTION),
            optional: header.contains(&OPTIONAL),
            precondition: header
                .iter()
                .find_map(|line| line.strip_prefix(PRECONDITION))
                .map(|path| sql::file(path.trim()))
                .transpose()?,
            on_demand: header.contains(&ON_DEMAND),
            generated: header.contains(&GENERATED),
            reads_profile: header.contains(&PROFILE),
            follows_profile: header.contains(&FOLLOWS_PROFILE),
        };
        if let Some(other) = migrations.insert(version, migration) {
            bail!(
                "two migrations have version {version} ({} and {file})",
                other.name
            );
        }
    }
    Ok(migrations.into_values().collect())
}

fn parse_file_name(file: &str) -> Option<(i32, &str)> {
    let stem = file.strip_prefix('V')?.strip_suffix(".sql")?;
    let (digits, name) = stem.split_once("__")?;
    let valid =
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty();
    Some((digits.parse().ok().filter(|_| valid)?, name))
}

/// The sha-256 of a file, with line endings normalised so a checkout with
/// CRLF line endings is not mistaken for an edited migration.
pub fn checksum(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n");
    Sha256::digest(normalised.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The applied migrations, or none when credits was never installed.
pub fn history(client: &mut impl GenericClient) -> Result<Vec<Applied>> {
    let installed: bool = client
        .query_one(sql::INSTALL_HISTORY_EXISTS, &[])?
        .get("installed");
    if !installed {
        return Ok(Vec::new());
    }
    let rows = client.query(sql::INSTALL_HISTORY, &[])?;
    Ok(rows
        .iter()
        .map(|row| Applied {
            version: row.get("version"),
            name: row.get("name"),
            checksum: row.get("checksum"),
            applied_at: row.get("applied_at"),
            applied_by: row.get("applied_by"),
        })
        .collect())
}

/// Fails with exit code 4 unless every migration of this binary is applied
/// unchanged: the commands rely on the objects they create.
pub fn require_installed(client: &mut impl GenericClient) -> Result<()> {
    let applied = history(client)?;
    let missing: Vec<String> = embedded()?
        .iter()
        .filter(|m| !m.optional || applied.iter().any(|a| a.version == m.version))
        .filter(|m| {
            !applied
                .iter()
                .any(|a| a.version == m.version && a.checksum == m.checksum)
        })
        .map(|m| m.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(fail(
        Code::Contract,
        format!(
            "credits is not installed in this database, or not this version of it (missing or changed: {}). \
             Run `credits install --dry-run`, then `credits install`; `credits status` shows the details.",
            missing.join(", ")
        ),
    ))
}

// The engine: the install lock, applying, recording, rehearsing.

/// What a dry run predicts for one pending migration.
pub enum Rehearsal {
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
pub fn rehearse(db: &mut Db, pending: &[&Migration], profile: &Profile) -> Result<Vec<Rehearsal>> {
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
    tx.batch_execute(sql::INSTALL_SCHEMA_HISTORY)?;
    let json = profile.json.to_string();
    tx.execute(sql::PROFILE_SETTINGS, &[&json, &profile.checksum])?;
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
pub fn obstacles(db: &mut Db, m: &Migration) -> Result<Vec<String>> {
    let Some(precondition) = m.precondition else {
        return Ok(Vec::new());
    };
    let mut tx = db.read_only()?;
    let rows = tx.query(precondition, &[])?;
    tx.commit()?;
    Ok(rows.iter().map(|row| row.get("obstacle")).collect())
}

/// Applies one migration under the install lock. Returns its execution time,
/// or None when a concurrent install applied it first.
pub fn apply(
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
                tx.execute(sql::PROFILE_SETTINGS, &[&json, &profile.checksum])?;
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
pub fn rebuild_adapter(
    db: &mut Db,
    profile: &Profile,
    (migrations, applied): (&[Migration], &[Applied]),
    operator: &str,
    reason: Option<&str>,
) -> Result<()> {
    with_install_lock(db, |tx| {
        let json = profile.json.to_string();
        tx.execute(
            sql::PROFILE_AUDIT,
            &[&operator, &reason, &json, &profile.checksum],
        )?;
        tx.execute(sql::PROFILE_STORE, &[&json, &profile.checksum])?;
        Ok(())
    })?;
    let is_applied = |m: &Migration| applied.iter().any(|a| a.version == m.version);
    for m in migrations.iter().filter(|m| m.generated && is_applied(m)) {
        run_outside_transaction(db, m)?;
    }
    for m in on_demand()?
        .iter()
        .filter(|m| m.follows_profile && is_applied(m))
    {
        note(format!("  {m}: made anew for the changed app"));
        with_install_lock(db, |tx| Ok(tx.batch_execute(m.sql)?))?;
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

/// Withdraws an on-demand migration (V014 by `credits audit disable`):
/// under the install lock, in one transaction, `work` undoes what it made
/// and its history row goes, so it reads as not applied and a later apply
/// records it anew.
pub fn withdraw_on_demand<T>(
    db: &mut Db,
    m: &Migration,
    work: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
) -> Result<T> {
    create_history(db)?;
    with_install_lock(db, |tx| {
        let result = work(tx)?;
        tx.execute(sql::INSTALL_FORGET, &[&m.version])?;
        Ok(result)
    })
}

/// Creates schema `credits_ops` and its history table if missing, under the
/// install lock, in a transaction of its own.
pub fn create_history(db: &mut Db) -> Result<()> {
    with_install_lock(db, |tx| Ok(tx.batch_execute(sql::INSTALL_SCHEMA_HISTORY)?))
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
        let locked = tx.simple_query(sql::INSTALL_TRY_LOCK)?.iter().any(
            |message| matches!(message, SimpleQueryMessage::Row(row) if row.get(0) == Some("t")),
        );
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
    let applied = history(tx)?;
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
        sql::INSTALL_RECORD,
        &[&m.version, &m.name, &m.checksum, &operator, &reason, &ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse_only_in_the_documented_form() {
        assert_eq!(parse_file_name("V001__schema.sql"), Some((1, "schema")));
        assert_eq!(parse_file_name("V12__a_b.sql"), Some((12, "a_b")));
        assert_eq!(parse_file_name("V001_schema.sql"), None);
        assert_eq!(parse_file_name("Vx01__schema.sql"), None);
        assert_eq!(parse_file_name("V001__.sql"), None);
        assert_eq!(parse_file_name("001__schema.sql"), None);
    }

    #[test]
    fn checksum_ignores_line_ending_style_but_not_content() {
        assert_eq!(checksum("a\r\nb\r\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a\nb\n"), checksum("a\nc\n"));
        assert_eq!(checksum("").len(), 64);
    }

    #[test]
    fn every_embedded_migration_is_well_formed() {
        let migrations = embedded().expect("embedded migrations parse");
        assert!(!migrations.is_empty());
        let versions: Vec<i32> = migrations.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert!(migrations.iter().any(|m| !m.transactional));
    }
}
