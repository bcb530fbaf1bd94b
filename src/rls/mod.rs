//! Row Level Security on the app's credits tables: what the API roles can
//! really do (`probes`), what the catalog says (`catalogue`), and the
//! least-privilege fix (`fix`, V010 applied on demand). `credits rls-fix`
//! is the command over these.

pub mod catalogue;
pub mod fix;
pub mod probes;

use anyhow::{Context, Result};
use postgres::Transaction;
use serde_json::{Value, json};

use crate::cli::Format;
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, note};
use crate::sql;

/// The roles the API acts as (Supabase's names by default).
pub struct Roles<'a> {
    pub user: &'a str,
    pub anon: &'a str,
    pub webhook: &'a str,
}

impl Roles<'_> {
    pub fn json(&self) -> Value {
        json!({"user": self.user, "anon": self.anon, "webhook": self.webhook})
    }
}

/// What of Supabase's shape the database has.
pub struct Setup {
    pub user: bool,
    pub anon: bool,
    pub webhook: bool,
    /// Policies can tell a signed-in user's rows: auth.uid() for uuid users
    /// of Supabase Auth, auth.jwt() for apps whose tokens carry their own ids.
    pub own_rows_function: bool,
    pub webhook_events: bool,
}

impl Setup {
    pub fn read(db: &mut Db, roles: &Roles<'_>) -> Result<Setup> {
        let mut tx = db.read_only()?;
        let row = tx.query_one(sql::RLS_ROLES, &[&roles.user, &roles.anon, &roles.webhook])?;
        tx.commit()?;
        let in_auth: Option<bool> = row.get("users_in_supabase_auth");
        Ok(Setup {
            user: row.get("user_role_exists"),
            anon: row.get("anon_role_exists"),
            webhook: row.get("webhook_role_exists"),
            own_rows_function: if in_auth.unwrap_or(false) {
                row.get("auth_uid_exists")
            } else {
                row.get("auth_jwt_exists")
            },
            webhook_events: row.get("webhook_events_exist"),
        })
    }

    /// What is missing for the fix, one phrase each.
    pub fn missing(&self, roles: &Roles<'_>) -> Vec<String> {
        let mut missing = Vec::new();
        for (exists, role, option) in [
            (self.user, roles.user, "--user-role"),
            (self.anon, roles.anon, "--anon-role"),
            (self.webhook, roles.webhook, "--webhook-role"),
        ] {
            if !exists {
                missing.push(format!("no role {role:?} ({option})"));
            }
        }
        if !self.own_rows_function {
            missing.push("no auth.uid() / auth.jwt() to tell a user's own rows".to_string());
        }
        missing
    }
}

/// The users and recharge the probes act on (ids as text, as the adapter
/// gives them), synthetic when the database has no such rows.
pub struct Subjects {
    pub me: String,
    pub other: String,
    pub recharge: String,
    pub synthetic: bool,
}

impl Subjects {
    pub fn read(tx: &mut Transaction<'_>) -> Result<Subjects> {
        let row = tx.query_one(sql::RLS_SUBJECTS, &[])?;
        let me: Option<String> = row.get("me");
        Ok(Subjects {
            synthetic: me.is_none(),
            me: me.unwrap_or_else(|| row.get("synthetic_me")),
            other: row
                .get::<_, Option<String>>("other")
                .unwrap_or_else(|| row.get("synthetic_other")),
            recharge: row
                .get::<_, Option<String>>("recharge")
                .unwrap_or_else(|| row.get("synthetic_recharge")),
        })
    }
}

/// `--check`: the catalogue and the probes, in a transaction that is always
/// rolled back; exit 1 when a probe gives the wrong answer.
pub fn check(db: &mut Db, roles: &Roles<'_>, setup: &Setup, format: Format) -> Result<Code> {
    let target = db.target.to_string();
    let mut tx = db.transaction()?;
    let subjects = Subjects::read(&mut tx)?;
    let mut catalogue = catalogue::read(&mut tx, roles)?;
    let probes = probes::run(&mut tx, roles, setup, &subjects)?;
    tx.rollback()?;

    let failed = probes.iter().filter(|p| p.failed()).count();
    let mut report = Report::new("rls-fix");
    report.field("database", target);
    report.field("mode", "check");
    report.field("roles", roles.json());
    report.field("supabase_shaped", setup.missing(roles).is_empty());
    report.field("probe_user_id", subjects.me.clone());
    report.field("synthetic_user", subjects.synthetic);
    report.field("probes_failed", failed);
    let lints = catalogue
        .pop()
        .context("the catalogue ends with the lints")?;
    report.sections = catalogue;
    report
        .sections
        .push(probes::section("probes", "Probes", &probes));
    report.sections.push(lints);
    report.csv_section = "probes";
    report.print(format)?;
    if failed == 0 {
        note("every probe gave the expected answer");
        Ok(Code::Ok)
    } else {
        note(format!(
            "{failed} probe(s) gave the wrong answer: `credits rls-fix --dry-run` shows the fix"
        ));
        Ok(Code::ProblemsFound)
    }
}
