//! Every command-line option, in one place (as sqlx-cli does).

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success, or nothing found
  1  problems found (diagnosis commands; `status` on checksum drift)
  2  usage error, or the confirmation was refused
  3  connection or database error
  4  the database does not meet the schema contract (nothing was written)
  5  a repair finished partly (some items failed, all are reported)";

/// Diagnose and repair a Stripe-fed prepaid-credits ledger in Supabase/PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "credits", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the pending versioned SQL of `sql/migrations` (schema `credits_ops`).
    ///
    /// Each migration runs with its history row in one transaction, under an
    /// advisory lock, so two installs started at once never both apply it.
    ///
    /// Example: credits install --dry-run && credits install --yes --reason "INC-42"
    Install(InstallArgs),
    /// List every migration as applied, pending, changed since applied, or unknown.
    ///
    /// Exits 1 when an applied migration's checksum differs from this binary's.
    ///
    /// Example: credits status --output json
    Status,
    /// Diagnose: run every check and report what is wrong, with the command that fixes it.
    ///
    /// Read-only, on one consistent snapshot. Exits 1 when a problem is found.
    ///
    /// Example: credits debug --since 36h --user someone@example.com
    Debug(DebugArgs),
    /// Run a throwaway local PostgreSQL with an incident and walk through the tool.
    ///
    /// Example: credits demo --keep
    Demo(DemoArgs),
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Database to work on: a URL (postgresql://user:pass@host:5432/db?sslmode=require)
    /// or a libpq `key=value` string. Without it, PGHOST, PGPORT, PGUSER, PGPASSWORD,
    /// PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT and ~/.pgpass apply, as in psql.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Output format: a table for people, JSON or CSV for scripts.
    #[arg(long, short, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,

    /// Longest any one statement may run (e.g. 30s, 2min) before the server cancels it.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s", global = true)]
    pub statement_timeout: Duration,

    /// Longest to wait for a row or table lock (e.g. 5s) before giving up.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s", global = true)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Options every command that writes takes.
#[derive(Debug, Args)]
pub struct WriteOpts {
    /// Print exactly what would change and write nothing at all.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (for scripts).
    #[arg(long, short)]
    pub yes: bool,

    /// Why this change is made (an incident or ticket id), recorded in the audit trail.
    #[arg(long)]
    pub reason: Option<String>,

    /// Who makes the change, recorded in the audit trail.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub operator: String,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub write: WriteOpts,
}

/// Which recharges and users a diagnosis looks at.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Recharges created since: a duration (7d, 36h), a date (2026-11-20) or an RFC 3339 time.
    #[arg(long, default_value = "7d")]
    pub since: String,

    /// A pending recharge older than this is stuck (e.g. 1h, 30min).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub stuck_after: Duration,

    /// Only this user: a user id (uuid) or an email in auth.users.
    #[arg(long)]
    pub user: Option<String>,

    /// Only the recharge of this Stripe payment intent (pi_...).
    #[arg(long)]
    pub payment_intent: Option<String>,
}

#[derive(Debug, Args)]
pub struct DebugArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Rows shown per check in the details table (JSON and CSV always carry every row).
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    /// Show every row of every check.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the demo database running and print its connection string.
    #[arg(long)]
    pub keep: bool,

    /// How many recharges the generated incident has.
    #[arg(long, default_value_t = 2000)]
    pub recharges: u32,
}
