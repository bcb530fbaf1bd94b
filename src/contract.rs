//! The schema contract of `credits-domain.md`: the app tables and columns
//! every command relies on. Checked before anything touches the app tables.

use anyhow::Result;

use crate::db::Db;
use crate::exit::{Code, fail};
use crate::sql;

/// Fails with exit code 4, naming every missing `table.column`, when the
/// database does not have what the contract requires. Reads only.
pub fn check(db: &mut Db) -> Result<()> {
    let mut tx = db.read_only()?;
    let rows = tx.query(sql::file("contract/missing_columns.sql"), &[])?;
    tx.commit()?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut missing_tables: Vec<String> = Vec::new();
    let mut missing_columns: Vec<String> = Vec::new();
    for row in &rows {
        let table: String = row.get("table_name");
        let column: String = row.get("column_name");
        missing_columns.push(format!("{table}.{column}"));
        if row.get::<_, bool>("table_missing") && !missing_tables.contains(&table) {
            missing_tables.push(table);
        }
    }
    let mut message = format!(
        "{} does not meet the credits schema contract; nothing was written.\n  missing: {}",
        db.target,
        missing_columns.join(", ")
    );
    if !missing_tables.is_empty() {
        message += &format!(
            "\n  (tables missing entirely: {})",
            missing_tables.join(", ")
        );
    }
    message += "\nCheck that DATABASE_URL points at the application database, and see \
                \"Schema contract\" in README.md for the tables and columns credits needs.";
    Err(fail(Code::Contract, message))
}
