//! The audit log `credits_ops.repair_log` as `log` and `support` show it:
//! one query (sql/log/list.sql), one set of columns.

use anyhow::Result;
use chrono::{DateTime, Utc};
use postgres::{Row, Transaction};
use serde_json::Value;

use crate::output::Section;
use crate::sql;

/// Which entries: each filter None when not given.
pub struct Filter<'a> {
    pub since: DateTime<Utc>,
    pub user_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub action: Option<&'a str>,
    pub limit: Option<i64>,
}

/// The entries matching `filter`, newest first.
pub fn entries(tx: &mut Transaction<'_>, filter: &Filter<'_>) -> Result<Vec<Row>> {
    Ok(tx.query(
        sql::LOG_LIST,
        &[
            &filter.since,
            &filter.user_id,
            &filter.reason,
            &filter.action,
            &filter.limit,
        ],
    )?)
}

/// A report section of entries.
pub fn section<'a>(
    name: &'static str,
    title: &str,
    rows: impl IntoIterator<Item = &'a Row>,
) -> Section {
    let mut section = Section::new(
        name,
        title,
        &[
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
        ],
    );
    for row in rows {
        let text = |column: &str| row.get::<_, Option<String>>(column).into();
        let number = |column: &str| row.get::<_, Option<i64>>(column).into();
        section.push(vec![
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
        ]);
    }
    section
}
