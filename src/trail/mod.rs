//! The balance audit trail (V014, applied on demand by `credits audit
//! enable`): statement-level triggers on the app's balances, ledger and
//! recharges tables record, per transaction and user, who moved a balance
//! and whether the ledger moved with it (`credits_ops.balance_audit`). The
//! check BALANCE_MOVED_WITHOUT_LEDGER reads it; `log --writers` and
//! `support` show it. `ops` holds the operations of `credits audit`.

pub mod ops;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{GenericClient, Transaction};
use serde_json::{Value, json};

use crate::cli::WriteOpts;
use crate::db::Db;
use crate::migrations::{self, Migration};
use crate::output::Section;
use crate::scope::relation_exists;
use crate::sql;

/// The triggers V014 makes: insert, update and delete on the balances and
/// the ledger, and update on the recharges.
pub const TRIGGERS: usize = 7;
const TABLE: &str = "credits_ops.balance_audit";

/// V014, as embedded in this binary.
pub fn migration() -> Result<Migration> {
    migrations::on_demand()?
        .into_iter()
        .find(|m| m.name == "balance_audit")
        .context("V014 balance_audit is not embedded in this binary")
}

/// One balance audit trigger on one of the app's tables.
pub struct Trigger {
    pub app_table: String,
    pub name: String,
    pub fires: bool,
    /// On a table of the app profile, reading columns that exist.
    pub current: bool,
}

/// Whether the trail records, from what is really in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Every trigger is there and fires.
    On,
    /// Some are missing, disabled or stale (the app changed since): writes
    /// to some tables go unrecorded.
    Partly,
    Off,
}

impl Recording {
    pub fn as_str(self) -> &'static str {
        match self {
            Recording::On => "on",
            Recording::Partly => "partly",
            Recording::Off => "off",
        }
    }
}

/// What the trail holds.
pub struct Rows {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
    pub moved_without_ledger_1d: i64,
    pub errors: i64,
    pub last_error: Option<String>,
}

pub struct State {
    /// V014's history row: None when not recorded, else whether its
    /// checksum is this binary's.
    pub recorded: Option<bool>,
    pub triggers: Vec<Trigger>,
    /// None before the trail was ever enabled (no table).
    pub rows: Option<Rows>,
}

impl State {
    pub fn read(tx: &mut Transaction<'_>, m: &Migration) -> Result<State> {
        let recorded = migrations::history(tx)?
            .into_iter()
            .find(|a| a.version == m.version)
            .map(|a| a.checksum == m.checksum);
        let triggers = triggers(tx)?;
        let rows = if relation_exists(tx, TABLE)? {
            let row = tx.query_one(sql::TRAIL_ROWS, &[])?;
            Some(Rows {
                count: row.get("rows"),
                oldest: row.get("oldest"),
                newest: row.get("newest"),
                moved_without_ledger_1d: row.get("moved_without_ledger_1d"),
                errors: row.get("errors"),
                last_error: row.get("last_error"),
            })
        } else {
            None
        };
        Ok(State {
            recorded,
            triggers,
            rows,
        })
    }

    pub fn recording(&self) -> Recording {
        let firing = self
            .triggers
            .iter()
            .filter(|t| t.fires && t.current)
            .count();
        if firing >= TRIGGERS {
            Recording::On
        } else if self.triggers.is_empty() {
            Recording::Off
        } else {
            Recording::Partly
        }
    }
}

pub fn triggers(client: &mut impl GenericClient) -> Result<Vec<Trigger>> {
    Ok(client
        .query(sql::TRAIL_TRIGGERS, &[])?
        .iter()
        .map(|row| Trigger {
            app_table: row.get("app_table"),
            name: row.get("trigger_name"),
            fires: row.get("fires"),
            current: row.get("current"),
        })
        .collect())
}

pub fn triggers_section(title: &str, triggers: &[Trigger]) -> Section {
    let mut section = Section::new(
        "triggers",
        title,
        &["app_table", "trigger", "fires", "current"],
    );
    for trigger in triggers {
        section.push(vec![
            trigger.app_table.clone().into(),
            trigger.name.clone().into(),
            trigger.fires.into(),
            trigger.current.into(),
        ]);
    }
    section
}

/// V014 run in a transaction that is rolled back: the triggers it would
/// make on this very database, or its error.
pub fn rehearse_enable(db: &mut Db, m: &Migration) -> Result<Vec<Trigger>> {
    let mut tx = db.transaction()?;
    tx.batch_execute(m.sql)
        .with_context(|| format!("{m} cannot be applied to this database"))?;
    let made = triggers(&mut tx)?;
    tx.rollback()?;
    Ok(made)
}

/// Applies V014 with its history row and an audit row, in one transaction.
pub fn enable(db: &mut Db, m: &Migration, write: &WriteOpts) -> Result<Vec<Trigger>> {
    let operator = write.operator.as_str();
    let reason = write.reason.as_deref();
    migrations::apply_on_demand(db, m, operator, reason, |tx| {
        tx.batch_execute(m.sql)?;
        let made = triggers(tx)?;
        let detail = json!({
            "migration": m.to_string(),
            "triggers": made.iter().map(|t| format!("{} on {}", t.name, t.app_table)).collect::<Vec<_>>(),
        });
        log(tx, write, "audit_enabled", &detail)?;
        Ok(made)
    })
}

/// Drops the triggers and V014's history row, keeping the trail's rows,
/// with an audit row, in one transaction.
pub fn disable(db: &mut Db, m: &Migration, write: &WriteOpts, dropped: &[Trigger]) -> Result<()> {
    migrations::withdraw_on_demand(db, m, |tx| {
        tx.batch_execute(sql::TRAIL_DISABLE)?;
        let detail = json!({
            "migration": m.to_string(),
            "triggers": dropped.iter().map(|t| format!("{} on {}", t.name, t.app_table)).collect::<Vec<_>>(),
            "rows_kept": true,
        });
        log(tx, write, "audit_disabled", &detail)
    })
}

/// What a prune would delete.
pub struct PrunePlan {
    pub rows: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub errors: i64,
}

pub fn prune_plan(tx: &mut Transaction<'_>, cutoff: DateTime<Utc>) -> Result<PrunePlan> {
    let row = tx.query_one(sql::TRAIL_PRUNE_PLAN, &[&cutoff])?;
    Ok(PrunePlan {
        rows: row.get("rows"),
        oldest: row.get("oldest"),
        errors: row.get("errors"),
    })
}

/// Deletes the trail's rows older than `cutoff`, `batch` at a time, each
/// batch in a short transaction of its own (the writers never wait long on
/// the trail). The first transaction records the audit row, with the plan;
/// an interrupted prune is finished by running it again. Returns the rows
/// deleted.
pub fn prune(
    db: &mut Db,
    cutoff: DateTime<Utc>,
    batch: i64,
    write: &WriteOpts,
    plan: &PrunePlan,
) -> Result<i64> {
    let mut deleted = 0;
    let mut first = true;
    loop {
        let mut tx = db.transaction()?;
        if first {
            let detail = json!({
                "older_than": crate::output::time(&cutoff),
                "rows": plan.rows,
                "errors": plan.errors,
            });
            log(&mut tx, write, "audit_pruned", &detail)?;
            tx.execute(sql::TRAIL_PRUNE_ERRORS, &[&cutoff])?;
            first = false;
        }
        let n: i64 = tx
            .query_one(sql::TRAIL_PRUNE, &[&cutoff, &batch])?
            .get("deleted");
        tx.commit()?;
        deleted += n;
        if n == 0 {
            return Ok(deleted);
        }
    }
}

fn log(tx: &mut Transaction<'_>, write: &WriteOpts, action: &str, detail: &Value) -> Result<()> {
    tx.execute(
        sql::TRAIL_LOG,
        &[&write.operator, &write.reason, &action, &detail.to_string()],
    )?;
    Ok(())
}

/// The columns of the trail's rows, as `writers` gives them.
pub const WRITER_COLUMNS: &[&str] = &[
    "at",
    "xact_id",
    "user_id",
    "db_role",
    "application_name",
    "balance_before",
    "balance_after",
    "balance_delta",
    "ledger_delta",
    "ledger_rows",
    "status_changes",
    "by_credits",
    "moved_without_ledger",
];

/// Whether the trail was ever enabled here (its table exists).
pub fn exists(tx: &mut Transaction<'_>) -> Result<bool> {
    relation_exists(tx, TABLE)
}

/// The trail for `log --writers` and `support`, newest first, each row
/// handed to `row` as it arrives, in `WRITER_COLUMNS`' order. Only where
/// the trail `exists`.
pub fn writers(
    tx: &mut Transaction<'_>,
    since: DateTime<Utc>,
    user_id: Option<&str>,
    limit: Option<i64>,
    mut row: impl FnMut(Vec<Value>),
) -> Result<()> {
    let params: [&(dyn ToSql + Sync); 3] = [&since, &user_id, &limit];
    let mut rows = tx.query_raw(sql::TRAIL_WRITERS, params)?;
    while let Some(r) = rows.next()? {
        let number = |column: &str| r.get::<_, Option<i64>>(column).into();
        row(vec![
            crate::output::time(&r.get::<_, DateTime<Utc>>("at")).into(),
            number("xact_id"),
            r.get::<_, String>("user_id").into(),
            r.get::<_, String>("db_role").into(),
            r.get::<_, String>("application_name").into(),
            number("balance_before"),
            number("balance_after"),
            number("balance_delta"),
            number("ledger_delta"),
            r.get::<_, i32>("ledger_rows").into(),
            r.get::<_, Value>("status_changes"),
            r.get::<_, bool>("by_credits").into(),
            r.get::<_, bool>("moved_without_ledger").into(),
        ]);
    }
    Ok(())
}
