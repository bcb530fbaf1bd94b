//! The least-privilege fix, V010: run in the caller's transaction (rolled
//! back for the plan, committed through the install machinery for real).

use anyhow::{Context, Result};
use postgres::Transaction;
use serde_json::Value;

use crate::migrations::Migration;
use crate::sql;

use super::Roles;

/// What V010 did: the policies it dropped and the app's functions it
/// revoked from the API roles (JSON objects, as recorded in the audit log).
pub struct Done {
    pub dropped: Vec<Value>,
    pub revoked: Vec<Value>,
}

pub fn apply(tx: &mut Transaction<'_>, m: &Migration, roles: &Roles<'_>) -> Result<Done> {
    tx.execute(
        sql::RLS_FIX_SETTINGS,
        &[&roles.user, &roles.anon, &roles.webhook],
    )?;
    tx.batch_execute(m.sql)
        .with_context(|| format!("running {m}"))?;
    let row = tx.query_one(sql::RLS_DROPPED, &[])?;
    Ok(Done {
        dropped: serde_json::from_str(row.get("dropped"))?,
        revoked: serde_json::from_str(row.get("revoked"))?,
    })
}
