//! A connection with the session guards applied to every transaction.
//!
//! All work happens inside explicit transactions: a transaction-mode pooler
//! (Supabase port 6543, PgBouncer) keeps one server connection for the whole
//! transaction, so the statements the client prepares stay valid there.

use std::time::Duration;

use anyhow::{Context, Result};
use postgres::{Client, Transaction};

use crate::cli::GlobalOpts;
use crate::connect::{self, Target};
use crate::sql;

pub struct Db {
    client: Client,
    pub target: Target,
    database_url: Option<String>,
    /// The mapping file (`--config`), for the app profile.
    pub config: Option<std::path::PathBuf>,
    /// The app profile, once the preflight (`contract::open`) checked it.
    pub profile: Option<crate::profile::Profile>,
    pub statement_timeout: Duration,
    statement_timeout_ms: String,
    lock_timeout_ms: String,
}

impl Db {
    pub fn connect(opts: &GlobalOpts) -> Result<Db> {
        Db::connect_to(opts, opts.database_url.as_deref())
    }

    /// Connects to `url` (another server than --database-url: a replica)
    /// with the options of `opts`.
    pub fn connect_to(opts: &GlobalOpts, url: Option<&str>) -> Result<Db> {
        let (client, target) = connect::connect(url)?;
        Ok(Db {
            client,
            target,
            database_url: url.map(str::to_string),
            config: opts.config.clone(),
            profile: None,
            statement_timeout: opts.statement_timeout,
            statement_timeout_ms: opts.statement_timeout.as_millis().to_string(),
            lock_timeout_ms: opts.lock_timeout.as_millis().to_string(),
        })
    }

    /// A second connection to the same database with the same guards.
    pub fn reconnect(&self) -> Result<Db> {
        let (client, target) = connect::connect(self.database_url.as_deref())?;
        Ok(Db {
            client,
            target,
            database_url: self.database_url.clone(),
            config: self.config.clone(),
            profile: None,
            statement_timeout: self.statement_timeout,
            statement_timeout_ms: self.statement_timeout_ms.clone(),
            lock_timeout_ms: self.lock_timeout_ms.clone(),
        })
    }

    /// The app profile the preflight checked.
    pub fn profile(&self) -> Result<&crate::profile::Profile> {
        self.profile
            .as_ref()
            .context("the app profile is read by the preflight (contract::open), which did not run")
    }

    /// A read-write transaction with the guards set, READ COMMITTED
    /// whatever the server's default: the repairs re-read under their row
    /// locks, and the kept facts' fold reads anew in each statement.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::ReadCommitted)
            .start()?;
        guard(&mut tx, &self.statement_timeout_ms, &self.lock_timeout_ms)?;
        Ok(tx)
    }

    /// A read-only transaction with the guards set: diagnosis can never write,
    /// and it also runs on a read replica.
    pub fn read_only(&mut self) -> Result<Transaction<'_>> {
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        guard(&mut tx, &self.statement_timeout_ms, &self.lock_timeout_ms)?;
        Ok(tx)
    }

    /// A read-only transaction on one snapshot: every query in it sees the
    /// database at the same instant, so a report's parts agree with each
    /// other while the webhook keeps writing.
    pub fn snapshot(&mut self) -> Result<Transaction<'_>> {
        self.read_only_snapshot(None)
    }

    /// A read-only transaction on the snapshot another connection's
    /// transaction exported (`export_snapshot`): both read the database at
    /// the same instant, so one report can be made on two connections.
    pub fn snapshot_of(&mut self, snapshot: &str) -> Result<Transaction<'_>> {
        // The server names snapshots like 00000003-0000001B-1.
        if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            anyhow::bail!("{snapshot:?} is not the name of an exported snapshot");
        }
        self.read_only_snapshot(Some(snapshot))
    }

    /// A read-only REPEATABLE READ transaction with the guards and the
    /// snapshots' memory set, on `imported` (a checked snapshot name)
    /// when given: importing it must be its first statement.
    fn read_only_snapshot(&mut self, imported: Option<&str>) -> Result<Transaction<'_>> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        if let Some(snapshot) = imported {
            tx.batch_execute(&sql::SESSION_IMPORT_SNAPSHOT.replace("{snapshot}", snapshot))
                .context("reading on another connection's snapshot")?;
        }
        guard(&mut tx, &self.statement_timeout_ms, &self.lock_timeout_ms)?;
        tx.execute(sql::SESSION_SNAPSHOT_MEMORY, &[])
            .context("setting work_mem, JIT and parallel workers for a read-only snapshot")?;
        Ok(tx)
    }

    /// The bare connection, for the statements that cannot run inside a
    /// transaction (`CREATE INDEX CONCURRENTLY`). Only the simple query
    /// protocol is used on it, so nothing depends on a prepared statement.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The name of `tx`'s snapshot, for `Db::snapshot_of` on another
/// connection; None on a standby (see sql/session/export_snapshot.sql).
pub fn export_snapshot(tx: &mut Transaction<'_>) -> Result<Option<String>> {
    Ok(tx
        .query_one(sql::SESSION_EXPORT_SNAPSHOT, &[])
        .context("exporting the snapshot")?
        .get("snapshot"))
}

fn guard(
    tx: &mut Transaction<'_>,
    statement_timeout_ms: &str,
    lock_timeout_ms: &str,
) -> Result<()> {
    tx.execute(
        sql::SESSION_GUARDS,
        &[&statement_timeout_ms, &lock_timeout_ms],
    )
    .context("setting statement_timeout and lock_timeout")?;
    Ok(())
}
