//! Every command-line option, in one place (as sqlx-cli does).

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success, or nothing found
  1  problems found (diagnosis commands; `status` on checksum drift)
  2  usage error, or the confirmation was refused
  3  connection or database error
  4  the database does not meet the schema contract (nothing was written), or the
     --read-url replica lags more than --max-lag (nothing was read)
  5  a repair finished partly (items locked or failed, or stopped by Ctrl-C); a rerun finishes
`credits health` exits with the Nagios codes instead: see `credits health --help`.";

const HEALTH_HELP: &str = "\
Exit codes (Nagios/Icinga plugin convention, unlike the other commands):
  0  OK        every metric is below its thresholds
  1  WARNING   a metric is at or over its --warn threshold
  2  CRITICAL  a metric is at or over its --crit threshold
  3  UNKNOWN   health could not be measured: a bad option value, no connection,
               schema contract not met, credits not installed, ... (stdout says
               `CREDITS UNKNOWN - <reason>`; the error is also on stderr)

Threshold keys and defaults (a metric is WARNING when value >= warn, CRITICAL
when value >= crit; `off` disables one):
  <check name, lowercase>  findings of that check (missing_transaction, failed_paid, ...):
                           error checks crit 1, warning checks warn 1, info checks none
  stuck_pending_age        seconds (or 90min, 2h): warn 1h, crit 4h
  webhook_failed           failed webhook events in the window: warn 1, crit 10
  success_event_age        seconds (or 6h): warn 6h, crit 24h
  stripe_undelivered_events  success events Stripe could not deliver (only when
                           STRIPE_API_KEY is set): warn 1, crit 10";

/// Diagnose and repair a Stripe-fed prepaid-credits ledger in Supabase/PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "credits", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

// Commands with a required argument state their usage: clap would show an
// option set through the environment (DATABASE_URL) in it, as if required.
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
    /// Stop sales during an incident: take every active package off sale, remembering which.
    ///
    /// Records the pause (which packages, who, why, when) in credits_ops, so
    /// `resume-packages` turns on exactly those again and never a package that
    /// was retired on purpose. Does nothing when a pause is already open.
    ///
    /// Example: credits pause-packages --reason "INC-42: webhook down" --yes
    PausePackages(PausePackagesArgs),
    /// End the open pause: put back on sale exactly the packages it took off sale.
    ///
    /// Every other package is left as it is; a paused package re-activated by
    /// hand meanwhile is left active and reported. Does nothing without an open pause.
    ///
    /// Example: credits resume-packages --dry-run && credits resume-packages --reason "INC-42 fixed"
    ResumePackages(ResumePackagesArgs),
    /// List the credit packages (id, name, credits, is_active) and the open pause, if any.
    ///
    /// Example: credits packages --output json
    Packages,
    /// Health check for monitoring: a Nagios/Icinga plugin line, JSON, or a Prometheus textfile.
    ///
    /// Counts each check's findings, the age of the oldest stuck pending
    /// recharge, failed webhook events and the time since the last success
    /// event, each against --warn/--crit thresholds. Read-only, on one
    /// snapshot. Exits with the Nagios codes (see below), not the usual ones.
    ///
    /// Example: credits health --crit stuck_pending_age=2h --prometheus-file /var/lib/node_exporter/credits.prom
    #[command(after_help = HEALTH_HELP, after_long_help = HEALTH_HELP)]
    Health(HealthArgs),
    /// Repair one user, at any age: credit what they paid for, complete credited recharges,
    /// and set their cached balance to the ledger sum. Audited; running it twice changes nothing.
    ///
    /// Duplicates and amount mismatches are reported, not changed, unless --reverse-duplicates
    /// appends compensating adjustments (the ledger is never edited).
    ///
    /// Example: credits fix-user someone@example.com --dry-run && credits fix-user someone@example.com --reason INC-42
    #[command(override_usage = "credits fix-user [OPTIONS] <SUBJECT>")]
    FixUser(FixUserArgs),
    /// Repair every affected user in the window (the fix-user repair), in batches of short transactions.
    ///
    /// Rows locked by someone else are skipped and reported (exit 5), never waited on.
    /// Interrupted, it loses nothing: a rerun finishes the job and doubles nothing.
    ///
    /// Example: credits bulk-fix --since 7d --dry-run && credits bulk-fix --since 7d --max-credits 500000 --yes --reason INC-42
    BulkFix(BulkFixArgs),
    /// Credit the failed recharges (and, with --include-pending, stuck pending ones) that were paid.
    ///
    /// Credits through credits_ops.apply_recharge only those with evidence of payment, or whose
    /// payment intent you attest with --paid/--paid-file (audited). The others are listed with
    /// their Stripe dashboard link and left untouched. Locked rows are skipped and reported (exit 5).
    ///
    /// Example: credits retry-failed --since 7d --dry-run && credits retry-failed --include-pending --paid pi_123 --reason INC-42
    RetryFailed(RetryFailedArgs),
    /// Everything support needs about one user on one page: recharges, balance, findings, audit.
    ///
    /// Give a user id, an email (looked up in the app's users table) or a payment intent id.
    ///
    /// Example: credits support someone@example.com --markdown
    #[command(override_usage = "credits support [OPTIONS] <SUBJECT>")]
    Support(SupportArgs),
    /// Show the audit log (credits_ops.repair_log): every change the tool made, newest first.
    ///
    /// Read-only, on one snapshot. Filters combine; a filter not given matches every row.
    ///
    /// Example: credits log --user someone@example.com --since 30d --reason INC-42
    Log(LogArgs),
    /// The balance audit trail: which writer moved a balance without the ledger, and when.
    ///
    /// `enable` installs statement-level triggers on the app's balances, ledger and
    /// recharges tables (V014, on demand); they record per transaction and user the
    /// role, application_name, balance before and after and the ledger rows added,
    /// and never make the app's write fail. `debug` then reports
    /// BALANCE_MOVED_WITHOUT_LEDGER; `log --writers` and `support` show the trail.
    ///
    /// Example: credits audit enable --dry-run && credits audit enable --reason INC-42 --yes
    Audit(AuditArgs),
    /// Check, and fix with least privilege, Row Level Security on the credits tables.
    ///
    /// Probes, in transactions that are always rolled back, what the webhook role, a
    /// signed-in user and anon can really do, and lists RLS state, policies, grants and
    /// the Supabase linter's findings. --check only reports (exit 1 when a probe is wrong).
    /// Without it, applies sql/migrations/V010 (recorded in `credits status`) and audits it.
    ///
    /// Example: credits rls-fix --check && credits rls-fix --dry-run && credits rls-fix --reason INC-42
    RlsFix(RlsFixArgs),
    /// Check against Stripe: the webhook setup, and every payment against its recharge.
    ///
    /// Read-only, in Stripe and in the database. The key comes from STRIPE_API_KEY or
    /// --stripe-key-file, never from the command line; a restricted key needs Read on
    /// Webhook Endpoints, Events, PaymentIntents and Charges.
    ///
    /// Example: credits stripe check --expect-url https://app.example.com/api/stripe/webhook && credits stripe reconcile --since 7d
    Stripe(StripeArgs),
    /// Show how credits maps this database's tables: each role's table and columns,
    /// id types, the app's statuses and types, evidence sources; detected, from
    /// the mapping file, or a default.
    ///
    /// Exits 4 naming what cannot be mapped. --init writes a commented credits.toml.
    ///
    /// Example: credits profile && credits install --dry-run
    Profile(ProfileArgs),
    /// Print a shell completion script for bash, zsh or fish.
    ///
    /// Example: credits completions bash > /etc/bash_completion.d/credits
    #[command(override_usage = "credits completions <SHELL>")]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command to a directory.
    ///
    /// Example: credits man > credits.1 && man ./credits.1
    Man(ManArgs),
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
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        global = true,
        help_heading = "Connection"
    )]
    pub database_url: Option<String>,

    /// A streaming replica for the commands that only read (debug, health, support, log,
    /// stripe check and reconcile): they run there, off the primary. Same forms as
    /// --database-url; the repairs always write, and check what they change, on the primary.
    #[arg(
        long,
        env = "CREDITS_READ_URL",
        hide_env_values = true,
        global = true,
        help_heading = "Connection"
    )]
    pub read_url: Option<String>,

    /// With --read-url: how far behind its primary the replica may be (e.g. 30s, 2min)
    /// before a command refuses to read there (exit 4).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", global = true, help_heading = "Connection")]
    pub max_lag: Duration,

    /// The mapping file telling how the app's tables map to the credits domain
    /// (default: ./credits.toml when present; see `credits profile`).
    #[arg(
        long,
        env = "CREDITS_CONFIG",
        global = true,
        value_name = "PATH",
        help_heading = "Connection"
    )]
    pub config: Option<std::path::PathBuf>,

    /// Output format: a table for people, JSON or CSV for scripts.
    #[arg(long, short, value_enum, default_value_t = Format::Table, global = true, help_heading = "Output")]
    pub output: Format,

    /// Show tables as one block per record (as psql's \x), also when they fit.
    #[arg(long, short = 'x', global = true, help_heading = "Output")]
    pub expanded: bool,

    /// Longest any one statement may run (e.g. 30s, 2min) before the server cancels it.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s", global = true, help_heading = "Connection")]
    pub statement_timeout: Duration,

    /// Longest to wait for a row or table lock (e.g. 5s) before giving up.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s", global = true, help_heading = "Connection")]
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

    /// Who makes the change, recorded in the audit trail (default: $USER, else
    /// the operating system's name for this user).
    #[arg(long, env = "USER", default_value_t = os_user())]
    pub operator: String,
}

impl WriteOpts {
    /// What the audit rows of `command` record.
    pub fn audit<'a>(&'a self, command: &'a str) -> crate::repair::Audit<'a> {
        crate::repair::Audit {
            operator: &self.operator,
            reason: self.reason.as_deref(),
            command,
        }
    }
}

/// The login name without $USER (cron, containers, `env -i`): $LOGNAME, else
/// this process's user id looked up in /etc/passwd, else `uid <n>`.
fn os_user() -> String {
    if let Ok(name) = std::env::var("LOGNAME")
        && !name.is_empty()
    {
        return name;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) {
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            let name = passwd.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_string())
            });
            return name.unwrap_or_else(|| format!("uid {uid}"));
        }
    }
    "unknown".to_string()
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct PausePackagesArgs {
    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct ResumePackagesArgs {
    #[command(flatten)]
    pub write: WriteOpts,
}

/// Which recharges a diagnosis or a retry looks at: created since, and when
/// a pending one counts as stuck.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Recharges created since: a duration (7d, 36h), a date (2026-11-20) or an RFC 3339 time.
    #[arg(long, default_value = "7d", value_parser = crate::scope::Since::parse_arg)]
    pub since: crate::scope::Since,

    /// A pending recharge older than this is stuck (e.g. 1h, 30min).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub stuck_after: Duration,
}

/// Stripe's own word on the payments a repair would credit.
#[derive(Debug, Args)]
pub struct StripeEvidence {
    /// Ask Stripe about every payment intent the repair would credit, and credit only
    /// what Stripe shows as paid: succeeded, in the key's mode, for the recharge's price
    /// and currency where the app stores them, not refunded or disputed. What Stripe
    /// does not show as paid is never credited, whatever the database says.
    #[arg(long)]
    pub verify_with_stripe: bool,

    /// A Payments export from the Stripe Dashboard (CSV), for an operator without an API
    /// key: a payment the file shows paid (Paid, nothing refunded, for the recharge's
    /// price) is credited, audited with the file's SHA-256; one it shows otherwise is not.
    #[arg(long, value_name = "FILE", conflicts_with = "verify_with_stripe")]
    pub stripe_export: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub api: StripeOpts,
}

/// How a bulk repair cuts its work into transactions.
#[derive(Debug, Args)]
pub struct BatchOpts {
    /// At most this many users (bulk-fix) or recharges (retry-failed) per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,

    /// The longest a batch may keep its row locks (e.g. 200ms): batches are sized by
    /// measured time to stay well under it, so the live webhook never waits long; a batch
    /// of several items that reaches it is cancelled by the server and redone in halves.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "200ms")]
    pub max_transaction: Duration,
}

impl BatchOpts {
    pub fn sizing(&self) -> crate::repair::batches::Sizing {
        crate::repair::batches::Sizing {
            max_items: self.batch_size as usize,
            max_transaction: self.max_transaction,
            // retry-failed's items are recharges, and one user's may be
            // in two batches: at once, each would find the other holding
            // the user's balance row. bulk-fix sets its own (`--jobs`).
            jobs: 1,
        }
    }
}

/// Which recharges and users a diagnosis looks at.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// Only this user: a user id or an email in the app's users table.
    #[arg(long)]
    pub user: Option<String>,

    /// Only the recharge of this Stripe payment intent (pi_...).
    #[arg(long)]
    pub payment_intent: Option<String>,
}

/// Where a diagnosis reads its facts from.
#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Read the app's tables instead of the facts credits keeps as the app writes
    /// (slower: debug, health and bulk-fix scan the whole ledger, retry-failed the
    /// window's recharges; compare the two to check the kept facts).
    #[arg(long)]
    pub rescan: bool,
}

#[derive(Debug, Args)]
pub struct DebugArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub facts: FactsArgs,

    /// Rows shown per check in the details table (JSON and CSV always carry every row).
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    /// Show every row of every check.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct FixUserArgs {
    /// A user id, an email, or a Stripe payment intent id (pi_...).
    pub subject: String,

    /// Append an `adjustment` reversing the credits each duplicated recharge granted too many.
    #[arg(long)]
    pub reverse_duplicates: bool,

    #[command(flatten)]
    pub stripe: StripeEvidence,

    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct BulkFixArgs {
    /// Users with a recharge created since: a duration (7d, 36h), a date or an RFC 3339 time.
    /// Users whose balance differs from their ledger are repaired whatever the window.
    #[arg(long, default_value = "7d", value_parser = crate::scope::Since::parse_arg)]
    pub since: crate::scope::Since,

    #[command(flatten)]
    pub batches: BatchOpts,

    /// Batches run at once, each in its own transaction on its own connection, never two
    /// on the same user. 2 repairs about twice as fast as 1 where the server has a second
    /// core free; use 1 on a server with no CPU to spare for the live app.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: u32,

    /// Refuse the whole run when crediting would grant more than this many credits in total.
    #[arg(long)]
    pub max_credits: Option<i64>,

    /// Also append an `adjustment` reversing each duplicated recharge's extra credits.
    #[arg(long)]
    pub reverse_duplicates: bool,

    #[command(flatten)]
    pub facts: FactsArgs,

    #[command(flatten)]
    pub stripe: StripeEvidence,

    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct RetryFailedArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// Also retry pending recharges older than --stuck-after.
    #[arg(long)]
    pub include_pending: bool,

    /// A payment intent you verified as paid in Stripe (repeatable): its recharge is
    /// credited even without stored evidence, and the attestation is audited.
    #[arg(long, value_name = "PI")]
    pub paid: Vec<String>,

    /// A file of payment intents verified as paid, one per line (blank lines and # comments ignored).
    #[arg(long, value_name = "PATH")]
    pub paid_file: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub batches: BatchOpts,

    #[command(flatten)]
    pub stripe: StripeEvidence,

    /// Also credit recharges whose only evidence is an app record that anon or a signed-in
    /// user could have written (forgeable); audited with the source named.
    #[arg(long)]
    pub trust_app_evidence: bool,

    /// Rows shown in the table of recharges (JSON and CSV always carry every row).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// Show every recharge in the table.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,

    #[command(flatten)]
    pub facts: FactsArgs,

    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct SupportArgs {
    /// A user id, an email, or a Stripe payment intent id (pi_...).
    pub subject: String,

    /// Print the page as Markdown, to paste into a ticket.
    #[arg(long)]
    pub markdown: bool,

    /// A pending recharge older than this is stuck (e.g. 1h, 30min).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub stuck_after: Duration,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only entries about this user: a user id, an email, or a payment intent id (pi_...).
    #[arg(long)]
    pub user: Option<String>,

    /// Only entries recorded with exactly this --reason.
    #[arg(long)]
    pub reason: Option<String>,

    /// Entries logged since: a duration (7d, 36h), a date (2026-11-20) or an RFC 3339 time.
    #[arg(long, default_value = "7d", value_parser = crate::scope::Since::parse_arg)]
    pub since: crate::scope::Since,

    /// Only entries with exactly this action.
    #[arg(long, value_parser = [
        "credited", "marked_completed", "balance_corrected", "duplicate_reversed",
        "pause_package", "resume_package", "rls_fix", "adapter_rebuilt",
        "audit_enabled", "audit_disabled", "audit_pruned",
    ])]
    pub action: Option<String>,

    /// Show at most this many entries, the newest.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,

    /// Show every entry (no --limit).
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,

    /// Show the balance audit trail instead (`credits audit enable`): every
    /// transaction that moved a balance or the ledger, with its role and
    /// application_name, and whether the balance moved without the ledger.
    #[arg(long, conflicts_with_all = ["reason", "action"])]
    pub writers: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Install the triggers (V014), or make them anew when some are missing.
    ///
    /// Creating a trigger briefly locks the app's table against writes: it
    /// waits at most --lock-timeout, then fails and changes nothing.
    Enable(AuditWriteArgs),
    /// Drop the triggers; the trail's rows stay (prune them with `audit prune`).
    Disable(AuditWriteArgs),
    /// Delete the trail's rows older than --older-than, in short batches.
    Prune(AuditPruneArgs),
    /// Whether the trail records (on, partly, off), its rows, the oldest, and the
    /// errors the triggers caught.
    Status,
}

#[derive(Debug, Args)]
pub struct AuditWriteArgs {
    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct AuditPruneArgs {
    /// Delete rows of transactions older than this (e.g. 90d).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "90d")]
    pub older_than: std::time::Duration,

    /// Rows deleted per transaction.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub batch_size: i64,

    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct RlsFixArgs {
    /// Only report: RLS state, policies, grants, probes and lints; change nothing.
    #[arg(long, conflicts_with_all = ["dry_run", "yes"])]
    pub check: bool,

    /// The role signed-in users act as (Supabase: authenticated).
    #[arg(long, default_value = "authenticated")]
    pub user_role: String,

    /// The role requests without a signed-in user act as (Supabase: anon).
    #[arg(long, default_value = "anon")]
    pub anon_role: String,

    /// The role the Stripe webhook handler uses (Supabase: service_role).
    #[arg(long, default_value = "service_role")]
    pub webhook_role: String,

    #[command(flatten)]
    pub write: WriteOpts,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Write what was detected to this mapping file (refuses to overwrite one).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "credits.toml")]
    pub init: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write credits.1 and credits-<command>.1 for every command into this directory.
    #[arg(long)]
    pub out_dir: Option<std::path::PathBuf>,
}

/// Options of `credits health`. Values are read by the command, not by the
/// parser, so that a bad one is a Nagios UNKNOWN (3), not a usage error (2).
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Recharges created since: a duration (7d, 36h), a date (2026-11-20) or an RFC 3339 time.
    #[arg(long, default_value = "7d")]
    pub since: String,

    /// A pending recharge older than this is stuck (e.g. 1h, 30min).
    #[arg(long, default_value = "1h")]
    pub stuck_after: String,

    #[command(flatten)]
    pub facts: FactsArgs,

    /// WARNING when the metric KEY is at least N (repeatable; N=off disables).
    #[arg(long, value_name = "KEY=N")]
    pub warn: Vec<String>,

    /// CRITICAL when the metric KEY is at least N (repeatable; N=off disables).
    #[arg(long, value_name = "KEY=N")]
    pub crit: Vec<String>,

    /// Also write the metrics in Prometheus text format to PATH (for node_exporter's
    /// textfile collector), atomically: a temporary file in the same directory, then a rename.
    #[arg(long, value_name = "PATH")]
    pub prometheus_file: Option<std::path::PathBuf>,

    /// A file holding a Stripe key (readable by you only): with it, or with
    /// STRIPE_API_KEY, health also counts the success events Stripe could not deliver.
    #[arg(long, value_name = "PATH")]
    pub stripe_key_file: Option<std::path::PathBuf>,
}

/// `credits stripe ...`
#[derive(Debug, Args)]
pub struct StripeArgs {
    #[command(flatten)]
    pub api: StripeOpts,

    #[command(subcommand)]
    pub command: StripeCommand,
}

#[derive(Debug, Subcommand)]
pub enum StripeCommand {
    /// The webhook setup: an enabled endpoint receiving the success events, and
    /// the success events Stripe could not deliver, with whether each was credited.
    ///
    /// Exits 1 when an endpoint is missing, disabled or not as expected, or an
    /// event was not delivered.
    ///
    /// Example: credits stripe check --since 3d --expect-url https://app.example.com/api/stripe/webhook
    Check(StripeCheckArgs),
    /// Every payment since --since against its recharge, by payment intent (or the
    /// recharge id in its metadata): paid but not credited, credited but not paid,
    /// refunded but still credited, amount mismatches, payments without a recharge,
    /// two payments for one recharge.
    ///
    /// Reads the API, or a Payments export from the Dashboard (--stripe-export).
    /// Exits 1 when Stripe and the ledger disagree.
    ///
    /// Example: credits stripe reconcile --since 7d --output json
    Reconcile(StripeReconcileArgs),
}

/// How the stripe commands reach Stripe.
#[derive(Debug, Args)]
pub struct StripeOpts {
    /// A file holding the Stripe secret or restricted key (readable by you only, as
    /// ~/.pgpass). Without it, STRIPE_API_KEY. STRIPE_API_BASE changes the API's URL.
    #[arg(long, value_name = "PATH", global = true, help_heading = "Stripe")]
    pub stripe_key_file: Option<std::path::PathBuf>,

    /// Longest one Stripe request may take (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", global = true, help_heading = "Stripe")]
    pub stripe_timeout: Duration,

    /// Stripe requests per second (default: 25 with a test key, 100 with a live
    /// key, Stripe's read limits).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100), global = true, help_heading = "Stripe")]
    pub stripe_max_rate: Option<u32>,
}

#[derive(Debug, Args)]
pub struct StripeCheckArgs {
    /// Undelivered events created since: a duration (3d), a date or an RFC 3339 time;
    /// at most 30 days (Stripe keeps events 30 days).
    #[arg(long, default_value = "7d", value_parser = crate::scope::Since::parse_arg)]
    pub since: crate::scope::Since,

    /// The app's webhook URL, which an enabled endpoint must have.
    #[arg(long, value_name = "URL")]
    pub expect_url: Option<String>,

    /// The API version the app's handler reads (e.g. 2026-01-28.clover), which
    /// every enabled endpoint must send.
    #[arg(long, value_name = "VERSION")]
    pub expect_api_version: Option<String>,
}

#[derive(Debug, Args)]
pub struct StripeReconcileArgs {
    /// Payments and recharges created since: a duration (7d, 36h), a date or an RFC 3339 time.
    #[arg(long, default_value = "7d", value_parser = crate::scope::Since::parse_arg)]
    pub since: crate::scope::Since,

    /// The payment intent metadata key holding the recharge id, for recharges
    /// that do not store their payment intent.
    #[arg(long, default_value = "rechargeId", value_name = "KEY")]
    pub metadata_key: String,

    /// Read the payments from this Stripe Dashboard Payments export (CSV) instead
    /// of the API; no key is needed.
    #[arg(long, value_name = "FILE")]
    pub stripe_export: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the demo database running and print its connection string.
    #[arg(long)]
    pub keep: bool,

    /// How many recharges the generated incident has (reference shape).
    #[arg(long, default_value_t = 2000)]
    pub recharges: u32,

    /// Which app layout to run the demo on: the reference, or a real app's shape
    /// (each with a small planted incident and, where needed, its mapping file).
    #[arg(long, value_enum, default_value_t = crate::reference::Shape::Reference)]
    pub shape: crate::reference::Shape,
}
