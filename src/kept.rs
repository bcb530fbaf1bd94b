//! The diagnosis facts credits keeps as the app writes (V019): whether they
//! can stand in for the tables, folding the app's recent changes into them,
//! and building them at install.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::Transaction;

use crate::db::Db;
use crate::output::note;
use crate::repair::batches::Sizing;
use crate::sql;

/// The name of the migration that keeps them.
pub const MIGRATION: &str = "kept_facts";

/// Where a diagnosis reads its facts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// V019's kept facts, built at this time, with the marks not folded
    /// yet (their keys are computed afresh by the read).
    Kept {
        built_at: DateTime<Utc>,
        pending: i64,
    },
    /// The tables, read whole; says why.
    Tables { why: String },
}

impl Facts {
    /// The facts' head: recharge_facts and user_facts.
    fn head(&self) -> &'static str {
        match self {
            Facts::Kept { .. } => sql::KEPT_FACTS,
            Facts::Tables { .. } => sql::DEBUG_FACTS,
        }
    }

    /// The head of the checks' statement: the facts' head, and the evidence
    /// of payment the checks share (sql/debug/evidence_facts.sql).
    pub fn checks_head(&self) -> String {
        format!("{}{}", self.head(), sql::DEBUG_EVIDENCE_FACTS)
    }

    /// `query` (a file naming recharge_facts and user_facts, as V013's
    /// views are named in psql) reading these facts.
    pub fn over(&self, query: &str) -> String {
        format!(
            "{}SELECT * FROM ({}) AS over_facts",
            self.head(),
            query.trim().trim_end_matches(';')
        )
    }

    /// For reports: `kept (built 2026-12-01T05:08:48Z, 12 changes read
    /// afresh)` or `tables (why)`.
    pub fn describe(&self) -> String {
        match self {
            Facts::Kept { built_at, pending } => format!(
                "kept (built {}, {pending} change(s) read afresh)",
                crate::output::time(built_at)
            ),
            Facts::Tables { why } => format!("tables ({why})"),
        }
    }
}

/// What sql/kept/state.sql says.
struct State {
    built_at: Option<DateTime<Utc>>,
    /// Marks not folded yet: the read computes their keys afresh.
    pending: i64,
    /// Why the kept facts cannot be read, or None when they can.
    unusable: Option<String>,
}

fn state(tx: &mut Transaction<'_>) -> Result<State> {
    let row = tx
        .query_one(sql::KEPT_STATE, &[])
        .context("running sql/kept/state.sql")?;
    let built_at: Option<DateTime<Utc>> = row.get("built_at");
    let invalidated: Option<String> = row
        .get::<_, Option<String>>("invalidated_why")
        .or(row.get("truncated"));
    let not_firing: Option<String> = row.get("triggers_not_firing");
    let unusable = match (built_at, invalidated, not_firing) {
        (None, _, _) => Some("the kept facts are not built yet: run `credits install`".to_string()),
        (_, Some(why), _) => Some(format!(
            "the kept facts were invalidated ({why}): `credits install` builds them again"
        )),
        (_, _, Some(triggers)) => Some(format!(
            "the kept facts cannot be trusted: trigger(s) missing, not set to fire always, or \
             reading a column the table no longer has: {triggers}; `credits install` makes them again"
        )),
        _ => None,
    };
    Ok(State {
        built_at,
        pending: row.get("pending_changes"),
        unusable,
    })
}

/// Which facts a diagnosis reads in `tx`: the kept ones, unless `rescan`
/// asks for the tables or the kept ones cannot be trusted.
pub fn source(tx: &mut Transaction<'_>, rescan: bool) -> Result<Facts> {
    if rescan {
        return Ok(Facts::Tables {
            why: "--rescan".to_string(),
        });
    }
    Ok(match state(tx)? {
        State {
            built_at: Some(built_at),
            pending,
            unusable: None,
        } => Facts::Kept { built_at, pending },
        State { unusable, .. } => {
            let why = unusable.unwrap_or_default();
            note(format!("reading the tables whole: {why}"));
            Facts::Tables { why }
        }
    })
}

/// How long a diagnosis spends folding marks before its snapshot; what is
/// left is computed afresh by its read.
pub const REFRESH_BUDGET: Duration = Duration::from_secs(2);

/// How the fold is cut into transactions: each aims at half of 200 ms,
/// under the 250 ms a repair may hold one. Sized by time, not by a count:
/// a chunk of 2,500 marks took 60 ms at 1M recharges on a warm cache, and
/// 170-570 ms at 10M after a large bulk-fix (each mark costs index probes
/// of the recharges and the ledger, wherever their pages are).
const REFRESH_CHUNKS: Sizing = Sizing {
    max_items: 20_000,
    max_transaction: Duration::from_millis(200),
    jobs: 1,
};

/// Folds the app's recent changes into the kept facts before a diagnosis
/// takes its snapshot, chunk by chunk for at most `budget`. Best effort: a
/// diagnosis reads the same facts whether or not this ran (the marks left
/// are computed afresh by the read), so a failure (a read-only role, a
/// replica) only leaves the work to the next run.
pub fn refresh(db: &mut Db, budget: Duration) {
    let started = Instant::now();
    let mut chunk = REFRESH_CHUNKS.first();
    while started.elapsed() < budget {
        let chunk_started = Instant::now();
        match refresh_chunk(db, chunk) {
            Ok(folded) if folded >= chunk as i64 => {
                chunk = REFRESH_CHUNKS.next(chunk, chunk_started.elapsed());
            }
            Ok(_) => break,
            Err(error) => {
                note(format!(
                    "the app's recent changes were not folded into the kept facts ({error:#}); \
                     this run computes them afresh, which takes longer as they accumulate"
                ));
                break;
            }
        }
    }
}

/// One chunk of at most `marks`, in a READ COMMITTED transaction of its own
/// with the session guards (a pooler in transaction mode keeps its
/// statements together).
fn refresh_chunk(db: &mut Db, marks: usize) -> Result<i64> {
    let marks = i32::try_from(marks).unwrap_or(i32::MAX);
    let mut tx = db.transaction()?;
    let folded = tx.query_one(sql::KEPT_REFRESH, &[&marks])?.get("folded");
    tx.commit()?;
    Ok(folded)
}

/// What `credits install` did to the kept facts.
pub struct Built {
    pub seconds: f64,
    pub recharges: i64,
    pub users: i64,
}

/// Why the kept facts need building now, or None when they are usable.
pub fn needs_build(db: &mut Db) -> Result<Option<String>> {
    let mut tx = db.read_only()?;
    let state = state(&mut tx)?;
    tx.commit()?;
    Ok(state.unusable)
}

/// Makes the marking triggers anew (with the lock timeout: it waits for
/// the app's writers), then builds the kept facts from the tables, in a
/// transaction of its own without the statement timeout, as an index is
/// built: it reads every row once and locks no app row.
pub fn build(db: &mut Db) -> Result<Built> {
    let mut tx = db.transaction()?;
    tx.batch_execute(sql::KEPT_TRIGGERS)
        .context("making the kept facts' triggers (sql/kept/triggers.sql)")?;
    tx.commit()?;
    let mut tx = db
        .client()
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::ReadCommitted)
        .start()?;
    let row = tx
        .query_one(sql::KEPT_BUILD, &[])
        .context("building the kept facts (sql/kept/build.sql)")?;
    tx.commit()?;
    Ok(Built {
        seconds: row.get("seconds"),
        recharges: row.get("recharges_kept"),
        users: row.get("users_kept"),
    })
}
