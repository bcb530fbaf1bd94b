//! The reference database of `sql/reference/`: Supabase's role model, the app
//! tables as a typical app creates them, and the seeded incident generator.
//! Used by `credits demo` and the tests; never by a command on a real database.

use anyhow::{Context, Result};
use postgres::Client;

use crate::sql;

/// Creates the roles, the `auth` schema, the app tables (RLS off, the broken
/// starting state) and the incident generator in an empty database.
pub fn create_schema(client: &mut Client) -> Result<()> {
    for file in [
        "reference/supabase.sql",
        "reference/app_schema.sql",
        "reference/incident.sql",
    ] {
        client
            .batch_execute(sql::file(file))
            .with_context(|| format!("loading sql/{file}"))?;
    }
    Ok(())
}

/// Fills the app tables with an incident: healthy traffic with every failure
/// mode of the domain in known counts. Returns (kind, count) as planted.
pub fn generate_incident(
    client: &mut Client,
    recharges: i32,
    users: i32,
    seed: i32,
) -> Result<Vec<(String, i32)>> {
    let rows = client
        .query(
            sql::file("reference/generate.sql"),
            &[&recharges, &users, &seed],
        )
        .context("generating the incident")?;
    Ok(rows
        .iter()
        .map(|row| (row.get("kind"), row.get("expected")))
        .collect())
}

/// The email of a user the incident broke with a finding of `kind`.
pub fn sample_user(client: &mut Client, kind: &str) -> Result<String> {
    let row = client
        .query_one(sql::file("reference/sample_user.sql"), &[&kind])
        .with_context(|| format!("finding a user with a {kind} finding"))?;
    Ok(row.get("email"))
}
