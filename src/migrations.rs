//! The versioned SQL of `sql/migrations/V<NNN>__<name>.sql` and its history
//! in `credits_ops.schema_history`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use postgres::GenericClient;
use sha2::{Digest, Sha256};

use crate::exit::{Code, fail};
use crate::sql;

/// A file's first line that makes it run outside a transaction.
const NO_TRANSACTION: &str = "-- credits:no-transaction";
/// A header line: commands work while this migration is pending.
const OPTIONAL: &str = "-- credits:optional";
/// A header line naming a query (under sql/) whose rows are obstacles:
/// while it returns any, install leaves the migration pending and lists them.
const PRECONDITION: &str = "-- credits:precondition ";
/// A header line: `credits install` never applies this migration; a command
/// applies it on demand (V010 by `credits rls-fix`), through the same machinery.
const ON_DEMAND: &str = "-- credits:on-demand";
/// A header line: the file is a query returning the statements to run (one
/// `ddl` column), written for this app's names from the stored profile.
const GENERATED: &str = "-- credits:generated";
/// A header line: the file reads the app profile from the settings
/// credits.profile and credits.profile_checksum, set in its transaction.
const PROFILE: &str = "-- credits:profile";

pub struct Migration {
    pub version: i32,
    pub name: String,
    pub sql: &'static str,
    pub checksum: String,
    pub transactional: bool,
    pub optional: bool,
    pub precondition: Option<&'static str>,
    pub on_demand: bool,
    pub generated: bool,
    pub reads_profile: bool,
}

/// One row of `credits_ops.schema_history`.
pub struct Applied {
    pub version: i32,
    pub name: String,
    pub checksum: String,
    pub applied_at: DateTime<Utc>,
    pub applied_by: String,
}

/// Every migration `credits install` applies, in version order (the
/// on-demand ones are left out: see [`on_demand`]).
pub fn embedded() -> Result<Vec<Migration>> {
    Ok(all()?.into_iter().filter(|m| !m.on_demand).collect())
}

/// The migrations marked `-- credits:on-demand`, applied by their command.
pub fn on_demand() -> Result<Vec<Migration>> {
    Ok(all()?.into_iter().filter(|m| m.on_demand).collect())
}

/// Every migration embedded in this binary, in version order.
fn all() -> Result<Vec<Migration>> {
    let mut migrations: BTreeMap<i32, Migration> = BTreeMap::new();
    for (file, text) in sql::dir("migrations") {
        let Some((version, name)) = parse_file_name(file) else {
            bail!("sql/migrations/{file} is not named V<NNN>__<name>.sql");
        };
        let header: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .take_while(|line| line.starts_with("--"))
            .collect();
        let migration = Migration {
            version,
            name: name.to_string(),
            sql: text,
            checksum: checksum(text),
            transactional: header.first() != Some(&NO_TRANSACTION),
            optional: header.contains(&OPTIONAL),
            precondition: header
                .iter()
                .find_map(|line| line.strip_prefix(PRECONDITION))
                .map(|path| sql::file(path.trim())),
            on_demand: header.contains(&ON_DEMAND),
            generated: header.contains(&GENERATED),
            reads_profile: header.contains(&PROFILE),
        };
        if let Some(other) = migrations.insert(version, migration) {
            bail!(
                "two migrations have version {version} ({} and {file})",
                other.name
            );
        }
    }
    Ok(migrations.into_values().collect())
}

fn parse_file_name(file: &str) -> Option<(i32, &str)> {
    let stem = file.strip_prefix('V')?.strip_suffix(".sql")?;
    let (digits, name) = stem.split_once("__")?;
    let valid =
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty();
    Some((digits.parse().ok().filter(|_| valid)?, name))
}

/// The sha-256 of a file, with line endings normalised so a checkout with
/// CRLF line endings is not mistaken for an edited migration.
pub fn checksum(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n");
    Sha256::digest(normalised.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The applied migrations, or none when credits was never installed.
pub fn history(client: &mut impl GenericClient) -> Result<Vec<Applied>> {
    let installed: bool = client
        .query_one(sql::file("install/history_exists.sql"), &[])?
        .get("installed");
    if !installed {
        return Ok(Vec::new());
    }
    let rows = client.query(sql::file("install/history.sql"), &[])?;
    Ok(rows
        .iter()
        .map(|row| Applied {
            version: row.get("version"),
            name: row.get("name"),
            checksum: row.get("checksum"),
            applied_at: row.get("applied_at"),
            applied_by: row.get("applied_by"),
        })
        .collect())
}

/// Fails with exit code 4 unless every migration of this binary is applied
/// unchanged: the commands rely on the objects they create.
pub fn require_installed(client: &mut impl GenericClient) -> Result<()> {
    let applied = history(client)?;
    let missing: Vec<String> = embedded()?
        .iter()
        .filter(|m| !m.optional || applied.iter().any(|a| a.version == m.version))
        .filter(|m| {
            !applied
                .iter()
                .any(|a| a.version == m.version && a.checksum == m.checksum)
        })
        .map(|m| format!("V{:03} {}", m.version, m.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(fail(
        Code::Contract,
        format!(
            "credits is not installed in this database, or not this version of it (missing or changed: {}). \
             Run `credits install --dry-run`, then `credits install`; `credits status` shows the details.",
            missing.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse_only_in_the_documented_form() {
        assert_eq!(parse_file_name("V001__schema.sql"), Some((1, "schema")));
        assert_eq!(parse_file_name("V12__a_b.sql"), Some((12, "a_b")));
        assert_eq!(parse_file_name("V001_schema.sql"), None);
        assert_eq!(parse_file_name("Vx01__schema.sql"), None);
        assert_eq!(parse_file_name("V001__.sql"), None);
        assert_eq!(parse_file_name("001__schema.sql"), None);
    }

    #[test]
    fn checksum_ignores_line_ending_style_but_not_content() {
        assert_eq!(checksum("a\r\nb\r\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a\nb\n"), checksum("a\nc\n"));
        assert_eq!(checksum("").len(), 64);
    }

    #[test]
    fn every_embedded_migration_is_well_formed() {
        let migrations = embedded().expect("embedded migrations parse");
        assert!(!migrations.is_empty());
        let versions: Vec<i32> = migrations.iter().map(|m| m.version).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert!(migrations.iter().any(|m| !m.transactional));
    }
}
