//! The app profile: which of the app's tables and columns play each role of
//! the credits domain, their types, the app's names for statuses and
//! transaction types, and where evidence of payment is kept.
//!
//! Apps differ (uuid, text or bigint ids; enums lacking some statuses;
//! camelCase columns; their own users table; extra NOT NULL columns), so the
//! profile is detected from the catalog and completed by a mapping file
//! (`credits.toml`). `credits install` stores it in `credits_ops.app_profile`
//! and builds the adapter views and statements from it
//! (`sql/migrations/V002__app_adapter.sql`); every command checks that the
//! app still matches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use postgres::GenericClient;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::exit::{Code, fail};
use crate::sql;

/// One column as the catalog describes it.
#[derive(Debug, Clone)]
struct CatalogColumn {
    name: String,
    sql_type: String,
    enum_labels: Option<Vec<String>>,
    not_null: bool,
    has_default: bool,
    unique_alone: bool,
    references: Option<(String, String)>,
}

#[derive(Debug, Clone)]
struct CatalogTable {
    schema: String,
    name: String,
    columns: Vec<CatalogColumn>,
}

impl CatalogTable {
    fn column(&self, name: &str) -> Option<&CatalogColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn qualified(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.name))
    }
}

/// An identifier as SQL writes it: bare when it is lower-case, quoted otherwise.
fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain && !name.is_empty() {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Names compared as apps spell them: `user_id`, `userId` and `UserID` match.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn read_catalog(client: &mut impl GenericClient) -> Result<Vec<CatalogTable>> {
    let rows = client
        .query(sql::PROFILE_COLUMNS, &[])
        .context("reading the catalog to detect the app's tables")?;
    let mut tables: Vec<CatalogTable> = Vec::new();
    for row in rows {
        let schema: String = row.get("table_schema");
        let name: String = row.get("table_name");
        let ref_schema: Option<String> = row.get("ref_schema");
        let ref_table: Option<String> = row.get("ref_table");
        let column = CatalogColumn {
            name: row.get("column_name"),
            sql_type: row.get("sql_type"),
            enum_labels: row.get("enum_labels"),
            not_null: row.get("not_null"),
            has_default: row.get("has_default"),
            unique_alone: row.get("unique_alone"),
            references: ref_schema.zip(ref_table),
        };
        match tables.last_mut() {
            Some(last) if last.schema == schema && last.name == name => last.columns.push(column),
            _ => tables.push(CatalogTable {
                schema,
                name,
                columns: vec![column],
            }),
        }
    }
    Ok(tables)
}

/// A role of the domain: its config section, the table names apps give it,
/// and its columns (the tool's name, then the names apps give it).
struct RoleSpec {
    key: &'static str,
    tables: &'static [&'static str],
    required: &'static [(&'static str, &'static [&'static str])],
    optional: &'static [(&'static str, &'static [&'static str])],
}

const RECHARGES: RoleSpec = RoleSpec {
    key: "recharges",
    tables: &[
        "credit_recharge",
        "credit_recharges",
        "recharge",
        "recharges",
    ],
    required: &[
        ("id", &["id"]),
        ("user_id", &["user_id"]),
        ("amount", &["amount", "credits"]),
        ("status", &["status"]),
        (
            "payment_intent_id",
            &["payment_intent_id", "stripe_payment_intent_id"],
        ),
        ("created_at", &["created_at"]),
    ],
    optional: &[
        ("price", &["price", "price_cents", "amount_cents"]),
        ("currency", &["currency"]),
        ("updated_at", &["updated_at"]),
    ],
};

const LEDGER: RoleSpec = RoleSpec {
    key: "ledger",
    tables: &[
        "credit_transaction",
        "credit_transactions",
        "credit_ledger",
        "credits_ledger",
    ],
    required: &[
        ("id", &["id"]),
        ("user_id", &["user_id"]),
        ("amount", &["amount"]),
        ("type", &["type", "kind"]),
        ("recharge_id", &["related_recharge_id", "recharge_id"]),
        ("created_at", &["created_at"]),
    ],
    optional: &[
        ("balance_after", &["balance_after"]),
        ("description", &["description"]),
        ("metadata", &["metadata"]),
        ("updated_at", &["updated_at"]),
    ],
};

const BALANCES: RoleSpec = RoleSpec {
    key: "balances",
    tables: &[
        "user_credit_balance",
        "user_credit_balances",
        "credit_balance",
        "credit_balances",
    ],
    required: &[("user_id", &["user_id"]), ("balance", &["balance"])],
    optional: &[
        ("id", &["id"]),
        ("total_recharged", &["total_recharged"]),
        ("total_consumed", &["total_consumed"]),
        ("created_at", &["created_at"]),
        ("updated_at", &["updated_at"]),
    ],
};

const PACKAGES: RoleSpec = RoleSpec {
    key: "packages",
    tables: &["credit_package", "credit_packages"],
    required: &[
        ("id", &["id"]),
        ("name", &["name"]),
        ("credits", &["credits"]),
        ("is_active", &["is_active", "active"]),
    ],
    optional: &[("updated_at", &["updated_at"])],
};

const WEBHOOK_EVENTS: RoleSpec = RoleSpec {
    key: "webhook_events",
    tables: &["stripe_webhook_event", "stripe_webhook_events"],
    required: &[
        ("id", &["id"]),
        ("type", &["type"]),
        ("payment_intent_id", &["payment_intent_id"]),
        ("payload", &["payload"]),
        ("received_at", &["received_at", "created_at"]),
    ],
    optional: &[("status", &["status"]), ("error", &["error"])],
};

const USERS: RoleSpec = RoleSpec {
    key: "users",
    tables: &["user", "users", "profiles", "profile"],
    required: &[("id", &["id"]), ("email", &["email"])],
    optional: &[],
};

/// The tool's recharge statuses and the spellings apps use for them.
const STATUSES: &[(&str, &[&str])] = &[
    ("completed", &["completed", "succeeded", "success", "paid"]),
    ("pending", &["pending", "processing", "created"]),
    ("failed", &["failed", "failure"]),
    ("canceled", &["canceled", "cancelled"]),
    ("refunded", &["refunded"]),
];

/// The tool's transaction types and the spellings apps use for them.
const TYPES: &[(&str, &[&str])] = &[
    ("recharge", &["recharge", "purchase", "topup"]),
    ("adjustment", &["adjustment", "correction"]),
    ("refund", &["refund"]),
];

/// The mapping file, `credits.toml`: what detection cannot know.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The schema of the app tables (default `public`).
    schema: Option<String>,
    #[serde(default)]
    recharges: RoleConfig,
    #[serde(default)]
    ledger: RoleConfig,
    #[serde(default)]
    balances: RoleConfig,
    #[serde(default)]
    packages: RoleConfig,
    #[serde(default)]
    users: RoleConfig,
    #[serde(default)]
    webhook_events: RoleConfig,
    /// The app's value for each of the tool's statuses; "" when it has none.
    #[serde(default)]
    statuses: BTreeMap<String, String>,
    /// The app's value for the transaction types recharge, adjustment, refund.
    #[serde(default)]
    types: BTreeMap<String, String>,
    #[serde(default)]
    evidence: Vec<EvidenceConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleConfig {
    /// `name` or `schema.name`; "" for an optional role the app lacks.
    table: Option<String>,
    /// The tool's column name -> the app's column name.
    #[serde(default)]
    columns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EvidenceConfig {
    /// `name` or `schema.name` of a table the app writes when Stripe told it a payment succeeded.
    table: String,
    /// Its column holding the payment intent id.
    payment_intent_column: String,
    /// A SQL condition on its rows that makes a row evidence (e.g. event_type = 'payment_intent.succeeded').
    condition: Option<String>,
}

/// Where the mapping file comes from: `--config`, `CREDITS_CONFIG`, or
/// `./credits.toml` when present.
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_path_buf());
    }
    let local = PathBuf::from("credits.toml");
    local.exists().then_some(local)
}

/// Reads and checks the mapping file: a syntax error, an unknown key or a
/// bad value is a usage error (2) naming the line and what is allowed.
pub fn load_config(path: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
    let Some(path) = config_path(path) else {
        return Ok((Config::default(), None));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        fail(
            Code::Usage,
            format!("cannot read the mapping file {}: {e}", path.display()),
        )
    })?;
    let config: Config = toml::from_str(&text).map_err(|e| {
        fail(
            Code::Usage,
            format!("mapping file {}: {e}", path.display().to_string().trim()),
        )
    })?;
    let check_keys = |section: &str, given: &BTreeMap<String, String>, allowed: &[&str]| match given
        .keys()
        .find(|k| !allowed.contains(&k.as_str()))
    {
        Some(key) => Err(fail(
            Code::Usage,
            format!(
                "mapping file {}: unknown key `{key}` in [{section}]; allowed: {}",
                path.display(),
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    };
    for (spec, role) in [
        (&RECHARGES, &config.recharges),
        (&LEDGER, &config.ledger),
        (&BALANCES, &config.balances),
        (&PACKAGES, &config.packages),
        (&USERS, &config.users),
        (&WEBHOOK_EVENTS, &config.webhook_events),
    ] {
        let allowed: Vec<&str> = spec
            .required
            .iter()
            .chain(spec.optional)
            .map(|(k, _)| *k)
            .collect();
        check_keys(&format!("{}.columns", spec.key), &role.columns, &allowed)?;
    }
    let statuses: Vec<&str> = STATUSES.iter().map(|(k, _)| *k).collect();
    check_keys("statuses", &config.statuses, &statuses)?;
    let types: Vec<&str> = TYPES.iter().map(|(k, _)| *k).collect();
    check_keys("types", &config.types, &types)?;
    Ok((config, Some(path)))
}

/// Where a profile item came from, shown by `credits profile`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Detected,
    Config,
    Default,
}

/// One line of `credits profile`.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub item: String,
    pub value: String,
    pub source: Source,
}

/// The profile, ready to be stored and to build the adapter from.
#[derive(Debug)]
pub struct Profile {
    /// What `credits_ops.build_adapter` reads (see V002).
    pub json: Value,
    /// sha-256 of `json`: a changed app or mapping changes it.
    pub checksum: String,
    pub items: Vec<Item>,
    /// Why the tool could not write this app's rows (exit 4 for repairs).
    pub write_blockers: Vec<String>,
    pub config_path: Option<PathBuf>,
}

/// Everything that stops a profile from being built, named exactly.
#[derive(Default)]
struct Problems(Vec<String>);

/// Detects the profile of the connected database, with the mapping file's
/// overrides. Fails with exit 4 naming every table, column or value it could
/// not map, and the config key that maps it.
pub fn detect(client: &mut impl GenericClient, config_file: Option<&Path>) -> Result<Profile> {
    let (config, config_path) = load_config(config_file)?;
    let catalog = read_catalog(client)?;
    let mut problems = Problems::default();
    let mut items = Vec::new();
    let schema = config.schema.clone().unwrap_or_else(|| "public".into());

    let mut roles = serde_json::Map::new();
    let mut found: BTreeMap<&str, (CatalogTable, BTreeMap<String, CatalogColumn>)> =
        BTreeMap::new();
    for (spec, role, optional) in [
        (&RECHARGES, &config.recharges, false),
        (&LEDGER, &config.ledger, false),
        (&BALANCES, &config.balances, false),
        (&PACKAGES, &config.packages, false),
        (&WEBHOOK_EVENTS, &config.webhook_events, true),
    ] {
        let table = find_table(
            &catalog,
            &schema,
            spec,
            role,
            optional,
            &mut problems,
            &mut items,
        );
        if let Some(table) = table {
            let columns = map_columns(&table, spec, role, &mut problems, &mut items);
            roles.insert(spec.key.into(), role_json(&table, &columns));
            found.insert(spec.key, (table, columns));
        }
    }

    // Users: the mapping file, else the table recharges.user_id references,
    // else a users-like table of the app schema, else Supabase's auth.users.
    let users_table = match config.users.table.as_deref() {
        Some(name) => lookup(&catalog, &schema, name).or_else(|| {
            problems.0.push(format!(
                "users table {name:?} (config key users.table) does not exist"
            ));
            None
        }),
        None => {
            let referenced = found
                .get("recharges")
                .and_then(|(_, cols)| cols.get("user_id"))
                .and_then(|c| c.references.clone())
                .and_then(|(s, t)| catalog.iter().find(|x| x.schema == s && x.name == t))
                .filter(|t| t.columns.iter().any(|c| normalise(&c.name) == "email"))
                .cloned();
            let source = if referenced.is_some() {
                "the foreign key of recharges.user_id"
            } else {
                ""
            };
            let table = referenced.or_else(|| {
                catalog
                    .iter()
                    .filter(|t| t.schema == schema)
                    .find(|t| {
                        USERS
                            .tables
                            .iter()
                            .any(|n| normalise(n) == normalise(&t.name))
                            && t.columns.iter().any(|c| normalise(&c.name) == "email")
                    })
                    .or_else(|| {
                        catalog
                            .iter()
                            .find(|t| t.schema == "auth" && t.name == "users")
                    })
                    .cloned()
            });
            if table.is_none() {
                problems.0.push(
                    "no users table with an email column found (not referenced by recharges.user_id, \
                     none named user/users/profiles, no auth.users): set users.table in credits.toml"
                        .into(),
                );
            }
            if let Some(t) = &table {
                let how = if source.is_empty() { "by name" } else { source };
                items.push(Item {
                    item: "users.table".into(),
                    value: format!("{} (found {how})", t.qualified()),
                    source: Source::Detected,
                });
            }
            table
        }
    };
    if let Some(table) = users_table {
        if config.users.table.is_some() {
            items.push(Item {
                item: "users.table".into(),
                value: table.qualified(),
                source: Source::Config,
            });
        }
        let columns = map_columns(&table, &USERS, &config.users, &mut problems, &mut items);
        roles.insert("users".into(), role_json(&table, &columns));
        found.insert("users", (table, columns));
    }

    let statuses = map_values(
        "statuses",
        STATUSES,
        &config.statuses,
        found.get("recharges").and_then(|(_, c)| c.get("status")),
        &mut problems,
        &mut items,
    );
    let types = map_values(
        "types",
        TYPES,
        &config.types,
        found.get("ledger").and_then(|(_, c)| c.get("type")),
        &mut problems,
        &mut items,
    );
    if statuses.get("completed").is_none_or(Value::is_null) {
        problems.0.push(
            "no recharge status means completed: set statuses.completed in credits.toml".into(),
        );
    }
    if types.get("recharge").is_none_or(Value::is_null) {
        problems
            .0
            .push("no transaction type means recharge: set types.recharge in credits.toml".into());
    }

    let evidence = evidence_sources(&catalog, &schema, &config, &mut problems, &mut items);
    let stripe_payment_intents = catalog.iter().any(|t| {
        t.schema == "stripe"
            && t.name == "payment_intents"
            && t.column("id").is_some()
            && t.column("status").is_some()
    });
    items.push(Item {
        item: "evidence.stripe_payment_intents".into(),
        value: if stripe_payment_intents {
            "stripe.payment_intents"
        } else {
            "absent"
        }
        .into(),
        source: Source::Detected,
    });

    if !problems.0.is_empty() {
        let missing_tables: Vec<&str> = [&RECHARGES, &LEDGER, &BALANCES, &PACKAGES]
            .iter()
            .filter(|spec| !found.contains_key(spec.key))
            .filter(|spec| {
                problems
                    .0
                    .iter()
                    .any(|p| p.contains(&format!("no {} table", spec.key)))
            })
            .map(|spec| spec.tables[0])
            .collect();
        return Err(fail(
            Code::Contract,
            format!(
                "this database does not meet the credits schema contract: credits cannot map its credits \
                 tables; nothing was written.\n  {}{}\nCheck that DATABASE_URL points at the application database. \
                 See \"Your schema\" in README.md: `credits profile --init` writes a commented credits.toml to edit.",
                problems.0.join("\n  "),
                if missing_tables.is_empty() {
                    String::new()
                } else {
                    format!(
                        "\n  (tables missing entirely: {})",
                        missing_tables.join(", ")
                    )
                }
            ),
        ));
    }
    let write_blockers = write_blockers(&found);
    let json = json!({
        "roles": roles,
        "statuses": statuses,
        "types": types,
        "evidence": evidence,
        "stripe_payment_intents": stripe_payment_intents,
    });
    let checksum = crate::migrations::checksum(&json.to_string());
    Ok(Profile {
        json,
        checksum,
        items,
        write_blockers,
        config_path,
    })
}

fn lookup(catalog: &[CatalogTable], schema: &str, name: &str) -> Option<CatalogTable> {
    let (s, t) = name.split_once('.').unwrap_or((schema, name));
    catalog
        .iter()
        .find(|x| x.schema == s && x.name == t)
        .cloned()
}

fn find_table(
    catalog: &[CatalogTable],
    schema: &str,
    spec: &RoleSpec,
    role: &RoleConfig,
    optional: bool,
    problems: &mut Problems,
    items: &mut Vec<Item>,
) -> Option<CatalogTable> {
    let item = format!("{}.table", spec.key);
    match role.table.as_deref() {
        Some("") if optional => {
            items.push(Item {
                item,
                value: "none".into(),
                source: Source::Config,
            });
            None
        }
        Some(name) => {
            let table = lookup(catalog, schema, name);
            match &table {
                Some(t) => items.push(Item {
                    item,
                    value: t.qualified(),
                    source: Source::Config,
                }),
                None => problems.0.push(format!(
                    "table {name:?} (config key {}) does not exist",
                    item
                )),
            }
            table
        }
        None => {
            let table = catalog
                .iter()
                .filter(|t| t.schema == schema)
                .find(|t| {
                    spec.tables
                        .iter()
                        .any(|n| normalise(n) == normalise(&t.name))
                })
                .cloned();
            match &table {
                Some(t) => items.push(Item { item, value: t.qualified(), source: Source::Detected }),
                None if optional => {
                    items.push(Item { item, value: "absent".into(), source: Source::Detected })
                }
                None => problems.0.push(format!(
                    "{schema}.{} is missing: no {} table in schema {schema} (looked for {}); set {item} in credits.toml. \
                     credits needs its columns {}",
                    spec.tables[0],
                    spec.key,
                    spec.tables.join(", "),
                    spec.required
                        .iter()
                        .map(|(column, names)| format!("{}.{}", spec.tables[0], names.first().unwrap_or(column)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            table
        }
    }
}

fn map_columns(
    table: &CatalogTable,
    spec: &RoleSpec,
    role: &RoleConfig,
    problems: &mut Problems,
    items: &mut Vec<Item>,
) -> BTreeMap<String, CatalogColumn> {
    let mut columns = BTreeMap::new();
    for (key, names, required) in spec
        .required
        .iter()
        .map(|(k, n)| (k, n, true))
        .chain(spec.optional.iter().map(|(k, n)| (k, n, false)))
    {
        let item = format!("{}.columns.{key}", spec.key);
        let (column, source) = match role.columns.get(*key) {
            Some(name) if name.is_empty() && !required => (None, Source::Config),
            Some(name) => match table.column(name) {
                Some(c) => (Some(c.clone()), Source::Config),
                None => {
                    problems.0.push(format!(
                        "column {name:?} (config key {item}) is not a column of {}",
                        table.qualified()
                    ));
                    continue;
                }
            },
            None => (
                table
                    .columns
                    .iter()
                    .find(|c| names.iter().any(|n| normalise(n) == normalise(&c.name)))
                    .cloned(),
                Source::Detected,
            ),
        };
        match column {
            Some(c) if !type_fits(key, &c) => problems.0.push(format!(
                "{}.{} is {}, which cannot hold the {key} of {}; map {item} in credits.toml to \
                 another column",
                table.qualified(),
                quote(&c.name),
                c.sql_type,
                spec.key
            )),
            Some(c) => {
                items.push(Item {
                    item,
                    value: format!("{} {}", quote(&c.name), c.sql_type),
                    source,
                });
                columns.insert(key.to_string(), c);
            }
            None if required => problems.0.push(format!(
                "{}.{} is missing (looked for {}); set {item} in credits.toml",
                table.qualified(),
                names[0],
                names.join(", ")
            )),
            None => {}
        }
    }
    columns
}

/// Whether a column's type can play the tool's column `key`: amounts are
/// whole numbers, flags booleans, times timestamps, payloads JSON. Ids,
/// statuses and types may be anything that reads as text (enums included).
fn type_fits(key: &str, column: &CatalogColumn) -> bool {
    let t = column.sql_type.as_str();
    let integer = matches!(t, "integer" | "bigint" | "smallint") || t.starts_with("numeric");
    match key {
        "amount" | "credits" | "balance" | "balance_after" | "total_recharged"
        | "total_consumed" | "price" => integer,
        "is_active" => t == "boolean",
        "created_at" | "updated_at" | "received_at" => t.starts_with("timestamp"),
        "payload" | "metadata" => matches!(t, "json" | "jsonb"),
        _ => true,
    }
}

fn role_json(table: &CatalogTable, columns: &BTreeMap<String, CatalogColumn>) -> Value {
    let columns: serde_json::Map<String, Value> = columns
        .iter()
        .map(|(key, c)| {
            (
                key.clone(),
                json!({"name": c.name, "type": c.sql_type, "has_default": c.has_default}),
            )
        })
        .collect();
    json!({"schema": table.schema, "table": table.name, "columns": columns})
}

/// The app's value for each of the tool's statuses (or types). An enum's
/// labels are matched case-insensitively to the usual spellings; a text
/// column is assumed to use the tool's names unless the mapping file says
/// otherwise. A value the app lacks is null: no row can have it, and the tool
/// never writes it.
fn map_values(
    section: &str,
    spellings: &[(&str, &[&str])],
    config: &BTreeMap<String, String>,
    column: Option<&CatalogColumn>,
    problems: &mut Problems,
    items: &mut Vec<Item>,
) -> serde_json::Map<String, Value> {
    let labels = column.and_then(|c| c.enum_labels.clone());
    let mut values = serde_json::Map::new();
    for (canonical, names) in spellings {
        let item = format!("{section}.{canonical}");
        let (value, source) = match (config.get(*canonical), &labels) {
            (Some(v), _) if v.is_empty() => (None, Source::Config),
            (Some(v), Some(labels)) if !labels.contains(v) => {
                problems.0.push(format!(
                    "{item} = {v:?} is not a value of the enum {} (values: {})",
                    column.map_or("", |c| c.sql_type.as_str()),
                    labels.join(", ")
                ));
                continue;
            }
            (Some(v), _) => (Some(v.clone()), Source::Config),
            (None, Some(labels)) => (
                labels
                    .iter()
                    .find(|l| names.iter().any(|n| normalise(n) == normalise(l)))
                    .cloned(),
                Source::Detected,
            ),
            (None, None) => (Some(canonical.to_string()), Source::Default),
        };
        items.push(Item {
            item,
            value: value
                .clone()
                .unwrap_or_else(|| "none (the app has no such value)".into()),
            source,
        });
        values.insert(
            canonical.to_string(),
            value.map_or(Value::Null, Value::from),
        );
    }
    values
}

/// Tables where the app records what Stripe told it: the mapping file's
/// `[[evidence]]`, and a `webhook_failures` table with an event type and a
/// payment intent column (the runbook's app writes one when crediting a
/// `payment_intent.succeeded` failed).
fn evidence_sources(
    catalog: &[CatalogTable],
    schema: &str,
    config: &Config,
    problems: &mut Problems,
    items: &mut Vec<Item>,
) -> Vec<Value> {
    let mut sources = Vec::new();
    for (n, e) in config.evidence.iter().enumerate() {
        match lookup(catalog, schema, &e.table) {
            Some(t) if t.column(&e.payment_intent_column).is_some() => {
                items.push(Item {
                    item: format!("evidence[{n}]"),
                    value: format!(
                        "{} where {}",
                        t.qualified(),
                        e.condition.as_deref().unwrap_or("true")
                    ),
                    source: Source::Config,
                });
                sources.push(json!({"schema": t.schema, "table": t.name,
                    "payment_intent_column": e.payment_intent_column,
                    "condition": e.condition.clone().unwrap_or_else(|| "true".into())}));
            }
            Some(t) => problems.0.push(format!(
                "evidence[{n}].payment_intent_column {:?} is not a column of {}",
                e.payment_intent_column,
                t.qualified()
            )),
            None => problems
                .0
                .push(format!("evidence[{n}].table {:?} does not exist", e.table)),
        }
    }
    if config.evidence.is_empty() {
        let failures = catalog
            .iter()
            .filter(|t| t.schema == schema)
            .find(|t| ["webhookfailures", "webhookfailure"].contains(&normalise(&t.name).as_str()));
        if let Some(t) = failures {
            let event = t.columns.iter().find(|c| normalise(&c.name) == "eventtype");
            let pi = t
                .columns
                .iter()
                .find(|c| normalise(&c.name) == "paymentintentid");
            if let (Some(event), Some(pi)) = (event, pi) {
                let condition = format!("{} = 'payment_intent.succeeded'", quote(&event.name));
                items.push(Item {
                    item: "evidence[0]".into(),
                    value: format!("{} where {condition}", t.qualified()),
                    source: Source::Detected,
                });
                sources.push(json!({"schema": t.schema, "table": t.name,
                    "payment_intent_column": pi.name, "condition": condition}));
            }
        }
    }
    sources
}

/// What stops the tool from writing this app's ledger and balance rows as
/// the app would: a NOT NULL column it does not know and cannot fill, an id
/// without a default that it cannot generate, or a balances.user_id that is
/// not unique (a second balance row could be created).
fn write_blockers(
    found: &BTreeMap<&str, (CatalogTable, BTreeMap<String, CatalogColumn>)>,
) -> Vec<String> {
    let mut blockers = Vec::new();
    for role in ["ledger", "balances"] {
        let Some((table, mapped)) = found.get(role) else {
            continue;
        };
        for c in &table.columns {
            let known = mapped.values().any(|m| m.name == c.name);
            if c.not_null && !c.has_default && !known {
                blockers.push(format!(
                    "{}.{} is NOT NULL without a default, and credits does not know what to write in it",
                    table.qualified(),
                    quote(&c.name)
                ));
            }
        }
        if let Some(id) = mapped.get("id")
            && !id.has_default
            && !matches!(id.sql_type.as_str(), "uuid" | "text")
            && !id.sql_type.starts_with("character varying")
        {
            blockers.push(format!(
                "{}.{} ({}) has no default, and credits generates only uuid and text ids",
                table.qualified(),
                quote(&id.name),
                id.sql_type
            ));
        }
    }
    if let Some((table, mapped)) = found.get("balances")
        && let Some(user) = mapped.get("user_id")
        && !user.unique_alone
    {
        blockers.push(format!(
            "{}.{} has no unique index: credits could not create a balance row without risking a second one",
            table.qualified(),
            quote(&user.name)
        ));
    }
    blockers
}

/// The profile stored by the last `credits install`, or None before it.
pub fn stored_checksum(client: &mut impl GenericClient) -> Result<Option<String>> {
    let exists: bool = client
        .query_one(sql::DEBUG_RELATION_EXISTS, &[&"credits_ops.app_profile"])?
        .get("present");
    if !exists {
        return Ok(None);
    }
    let rows = client.query(sql::PROFILE_STORED, &[])?;
    Ok(rows.first().map(|row| row.get("checksum")))
}

impl Profile {
    /// Fails with exit 4 when the tool cannot write this app's rows.
    pub fn require_writable(&self) -> Result<()> {
        if self.write_blockers.is_empty() {
            return Ok(());
        }
        Err(fail(
            Code::Contract,
            format!(
                "credits cannot write this app's ledger rows as the app does; nothing was written.\n  {}\n\
                 Give the column a default, or tell us about it: see \"Your schema\" in README.md.",
                self.write_blockers.join("\n  ")
            ),
        ))
    }

    /// Fails with exit 4 when the repairs cannot write this app's rows, or
    /// when duplicates are to be reversed and the app has no correction type.
    pub fn require_reversible(&self, reverse_duplicates: bool) -> Result<()> {
        self.require_writable()?;
        if reverse_duplicates && self.json["types"]["adjustment"].is_null() {
            return Err(fail(
                Code::Contract,
                "--reverse-duplicates needs a correction transaction type, and this app's \
                 transaction type has none (see `credits profile`, item types.adjustment); nothing was written. \
                 Add one to the app's type (enum) and set types.adjustment in credits.toml, \
                 or reverse the duplicates the app's own way.",
            ));
        }
        Ok(())
    }

    /// A commented `credits.toml` holding what was detected, to edit.
    pub fn init_file(&self) -> String {
        let mut text = String::from(
            "# credits.toml: how credits maps this app's tables (see \"Your schema\" in README.md).\n\
             # Written by `credits profile --init` from what was detected; edit what is wrong.\n\
             # A key left out is detected; \"\" means the app has no such thing.\n",
        );
        let mut section = String::new();
        for item in &self.items {
            let (head, key) = item.item.rsplit_once('.').unwrap_or(("", &item.item));
            if head.starts_with("evidence") || item.item.starts_with("evidence") {
                continue;
            }
            if head != section {
                text.push_str(&format!("\n[{head}]\n"));
                section = head.to_string();
            }
            let value = item.value.split(" (found").next().unwrap_or_default();
            let value = match key {
                "table" => value
                    .rsplit('.')
                    .next()
                    .unwrap_or(value)
                    .trim_matches('"')
                    .to_string(),
                _ if head.ends_with("columns") => value
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string(),
                _ if value.starts_with("none") => String::new(),
                _ => value.to_string(),
            };
            let comment = if item.source == Source::Detected {
                ""
            } else {
                "# "
            };
            text.push_str(&format!("{comment}{key} = {value:?}\n"));
        }
        text.push_str(
            "\n# Tables where the app records that Stripe reported a payment (repeatable):\n\
             # [[evidence]]\n# table = \"webhook_failures\"\n# payment_intent_column = \"payment_intent_id\"\n\
             # condition = \"event_type = 'payment_intent.succeeded'\"\n",
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_across_spellings() {
        assert_eq!(normalise("userId"), normalise("user_id"));
        assert_eq!(normalise("CreditRecharge"), normalise("credit_recharge"));
        assert_ne!(normalise("user_id"), normalise("users_id"));
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(quote("credit_recharge"), "credit_recharge");
        assert_eq!(quote("userId"), "\"userId\"");
        assert_eq!(quote("user"), "user");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn enum_values_map_case_insensitively_and_missing_ones_are_null() {
        let column = CatalogColumn {
            name: "status".into(),
            sql_type: "\"RechargeStatus\"".into(),
            enum_labels: Some(vec!["PENDING".into(), "COMPLETED".into(), "FAILED".into()]),
            not_null: true,
            has_default: true,
            unique_alone: false,
            references: None,
        };
        let mut problems = Problems::default();
        let mut items = Vec::new();
        let values = map_values(
            "statuses",
            STATUSES,
            &BTreeMap::new(),
            Some(&column),
            &mut problems,
            &mut items,
        );
        assert_eq!(values["completed"], "COMPLETED");
        assert_eq!(values["pending"], "PENDING");
        assert!(values["canceled"].is_null());
        assert!(problems.0.is_empty());

        let config = BTreeMap::from([("completed".to_string(), "DONE".to_string())]);
        map_values(
            "statuses",
            STATUSES,
            &config,
            Some(&column),
            &mut problems,
            &mut items,
        );
        assert!(
            problems.0[0].contains("not a value of the enum"),
            "{:?}",
            problems.0
        );
    }

    #[test]
    fn column_types_must_fit_their_role() {
        let column = |sql_type: &str| CatalogColumn {
            name: "x".into(),
            sql_type: sql_type.into(),
            enum_labels: None,
            not_null: true,
            has_default: false,
            unique_alone: false,
            references: None,
        };
        assert!(type_fits("amount", &column("integer")));
        assert!(!type_fits("amount", &column("text")));
        assert!(type_fits("is_active", &column("boolean")));
        assert!(!type_fits("is_active", &column("integer")));
        assert!(type_fits(
            "created_at",
            &column("timestamp(3) without time zone")
        ));
        assert!(!type_fits("payload", &column("text")));
        assert!(type_fits("user_id", &column("bigint")));
    }

    #[test]
    fn unknown_mapping_keys_are_refused_with_what_is_allowed() {
        let dir = std::env::temp_dir().join(format!("credits-profile-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credits.toml");
        std::fs::write(&path, "[recharges.columns]\nuser = \"userId\"\n").unwrap();
        let error = load_config(Some(&path)).unwrap_err();
        assert!(
            error.to_string().contains("allowed: id, user_id"),
            "{error}"
        );
        std::fs::write(&path, "[recharge]\ntable = \"x\"\n").unwrap();
        let error = load_config(Some(&path)).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
        assert_eq!(crate::exit::code_of(&error), Code::Usage);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
