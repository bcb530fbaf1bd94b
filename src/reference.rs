//! The reference database of `sql/reference/`: Supabase's role model, the app
//! tables as a typical app creates them, and the seeded incident generator.
//! Used by `credits demo` and the tests; never by a command on a real database.

use anyhow::{Context, Result};
use postgres::Client;

use crate::sql;

/// Creates the roles, the `auth` schema, the app tables (RLS off, the broken
/// starting state) and the incident generator in an empty database.
pub fn create_schema(client: &mut Client) -> Result<()> {
    for (file, text) in [
        ("reference/supabase.sql", sql::REFERENCE_SUPABASE),
        ("reference/app_schema.sql", sql::REFERENCE_APP_SCHEMA),
        ("reference/incident.sql", sql::REFERENCE_INCIDENT),
    ] {
        client
            .batch_execute(text)
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
        .query(sql::REFERENCE_GENERATE, &[&recharges, &users, &seed])
        .context("generating the incident")?;
    Ok(planted(&rows))
}

/// (kind, count) of what an incident planted.
fn planted(rows: &[postgres::Row]) -> Vec<(String, i32)> {
    rows.iter()
        .map(|row| (row.get("kind"), row.get("expected")))
        .collect()
}

/// The email of a user the incident of `shape` broke with a finding of `kind`.
pub fn sample_user(client: &mut Client, shape: Shape, kind: &str) -> Result<String> {
    let query = match shape {
        Shape::Reference => sql::REFERENCE_SAMPLE_USER,
        _ => sql::REFERENCE_SHAPE_SAMPLE_USER,
    };
    let row = client
        .query_one(query, &[&kind])
        .with_context(|| format!("finding a user with a {kind} finding"))?;
    Ok(row.get("email"))
}

/// The app shapes of `sql/reference/shapes/`: real apps' ways of laying out
/// the same credits tables, each with a small planted incident and its
/// truth in `credits_fixture.expected_finding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// uuid ids and users in Supabase Auth: the generated incident above.
    Reference,
    /// The runbook's own app: text ids, enums lacking some statuses, its own
    /// users table, extra NOT NULL columns, a webhook_failures table.
    Runbook,
    /// A Prisma app: PascalCase tables, camelCase columns, UPPERCASE enums.
    Prisma,
    /// bigint identity ids, users in profiles, a text status saying 'paid'.
    Serial,
}

impl Shape {
    /// The shape's schema and incident, loaded after `supabase.sql`.
    fn file(self) -> Option<(&'static str, &'static str)> {
        match self {
            Shape::Reference => None,
            Shape::Runbook => Some((
                "reference/shapes/runbook.sql",
                sql::REFERENCE_SHAPES_RUNBOOK,
            )),
            Shape::Prisma => Some(("reference/shapes/prisma.sql", sql::REFERENCE_SHAPES_PRISMA)),
            Shape::Serial => Some(("reference/shapes/serial.sql", sql::REFERENCE_SHAPES_SERIAL)),
        }
    }

    /// The mapping file (credits.toml) the shape is run with, if any.
    pub fn mapping(self) -> Option<&'static str> {
        match self {
            Shape::Reference | Shape::Runbook => None,
            Shape::Prisma => Some(include_str!("../sql/reference/shapes/prisma.toml")),
            Shape::Serial => Some(include_str!("../sql/reference/shapes/serial.toml")),
        }
    }
}

/// Loads a non-reference shape, with its incident, into an empty database.
/// Returns (kind, count) as planted.
pub fn load_shape(client: &mut Client, shape: Shape) -> Result<Vec<(String, i32)>> {
    let file = shape
        .file()
        .context("the reference shape is loaded with create_schema")?;
    for (file, text) in [("reference/supabase.sql", sql::REFERENCE_SUPABASE), file] {
        client
            .batch_execute(text)
            .with_context(|| format!("loading sql/{file}"))?;
    }
    let rows = client.query(sql::REFERENCE_SHAPE_PLANTED, &[])?;
    Ok(planted(&rows))
}
