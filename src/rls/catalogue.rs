//! What the catalog says about the credits tables: RLS state, policies,
//! grants and the Supabase linter's findings. Each is one SQL file whose
//! columns are declared here with their types.

use anyhow::Result;
use postgres::Transaction;
use postgres::types::ToSql;
use serde_json::Value;

use crate::output::Section;
use crate::sql;

use super::Roles;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bool,
    Count,
}

use Kind::{Bool, Count, Text};

/// A report section straight from a query, reading each column as its type.
fn section(
    tx: &mut Transaction<'_>,
    (name, title): (&'static str, &str),
    file: &'static str,
    columns: &[(&'static str, Kind)],
    params: &[&(dyn ToSql + Sync)],
) -> Result<Section> {
    let names: Vec<&'static str> = columns.iter().map(|(name, _)| *name).collect();
    let mut section = Section::new(name, title, &names);
    for row in tx.query(file, params)? {
        let values = columns
            .iter()
            .map(|(column, kind)| match kind {
                Text => row
                    .get::<_, Option<String>>(*column)
                    .map_or(Value::Null, Value::from),
                Bool => row
                    .get::<_, Option<bool>>(*column)
                    .map_or(Value::Null, Value::from),
                Count => row
                    .get::<_, Option<i64>>(*column)
                    .map_or(Value::Null, Value::from),
            })
            .collect();
        section.push(values);
    }
    Ok(section)
}

/// RLS state, policies, grants and lints, in that order.
pub fn read(tx: &mut Transaction<'_>, roles: &Roles<'_>) -> Result<Vec<Section>> {
    Ok(vec![
        section(
            tx,
            ("tables", "Row Level Security"),
            sql::RLS_TABLES,
            &[
                ("table_name", Text),
                ("rls_enabled", Bool),
                ("rls_forced", Bool),
                ("policies", Count),
            ],
            &[],
        )?,
        section(
            tx,
            ("policies", "Policies"),
            sql::RLS_POLICIES,
            &[
                ("table_name", Text),
                ("policy", Text),
                ("permissive", Text),
                ("roles", Text),
                ("command", Text),
                ("using_expr", Text),
                ("with_check", Text),
            ],
            &[],
        )?,
        section(
            tx,
            ("grants", "Table grants"),
            sql::RLS_GRANTS,
            &[
                ("table_name", Text),
                ("role", Text),
                ("can_select", Bool),
                ("can_insert", Bool),
                ("can_update", Bool),
                ("can_delete", Bool),
                ("bypasses_rls", Bool),
            ],
            &[&roles.anon, &roles.user, &roles.webhook],
        )?,
        section(
            tx,
            ("lints", "Supabase linter (splinter) findings"),
            sql::RLS_LINTS,
            &[
                ("lint", Text),
                ("level", Text),
                ("object", Text),
                ("detail", Text),
            ],
            &[&roles.anon, &roles.user],
        )?,
    ])
}
