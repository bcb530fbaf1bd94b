//! The audit log `credits_ops.repair_log` as `log` and `support` show it:
//! one query (sql/log/list.sql), one set of columns.

use anyhow::Result;
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Row, Transaction};
use serde_json::Value;

use crate::sql;

/// Which entries: each filter None when not given.
pub struct Filter<'a> {
    pub since: DateTime<Utc>,
    pub user_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub action: Option<&'a str>,
    pub limit: Option<i64>,
}

/// The columns of an entry, as `row` gives them.
pub const COLUMNS: &[&str] = &[
    "logged_at",
    "operator",
    "reason",
    "command",
    "action",
    "recharge_id",
    "user_id",
    "credits_delta",
    "balance_before",
    "balance_after",
    "detail",
];

/// The entries matching `filter`, newest first, each handed to `entry` as
/// it arrives: `log --all` over a bulk repair's half a million entries
/// never holds them.
pub fn each(
    tx: &mut Transaction<'_>,
    filter: &Filter<'_>,
    mut entry: impl FnMut(&Row),
) -> Result<()> {
    let params: [&(dyn ToSql + Sync); 5] = [
        &filter.since,
        &filter.user_id,
        &filter.reason,
        &filter.action,
        &filter.limit,
    ];
    let mut rows = tx.query_raw(sql::LOG_LIST, params)?;
    while let Some(row) = rows.next()? {
        entry(&row);
    }
    Ok(())
}

/// One entry as a report row, in `COLUMNS`' order.
pub fn row(row: &Row) -> Vec<Value> {
    let text = |column: &str| row.get::<_, Option<String>>(column).into();
    let number = |column: &str| row.get::<_, Option<i64>>(column).into();
    vec![
        crate::output::time(&row.get::<_, DateTime<Utc>>("logged_at")).into(),
        text("operator"),
        text("reason"),
        text("command"),
        text("action"),
        text("recharge_id"),
        text("user_id"),
        number("credits_delta"),
        number("balance_before"),
        number("balance_after"),
        // A JSON value in JSON; tables and CSV print it as JSON text.
        row.get::<_, Option<Value>>("detail").unwrap_or(Value::Null),
    ]
}
