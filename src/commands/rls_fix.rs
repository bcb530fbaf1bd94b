//! `credits rls-fix`: what the API roles can really do to the credits tables,
//! found by probing, and the least-privilege fix (V010, applied on demand).
//!
//! Every probe runs in its own savepoint of one transaction that is always
//! rolled back: act as the role (`set_config('role', ...)`, as SET LOCAL ROLE)
//! with the JWT claims auth.uid() reads, try the thing, note what happened.
//! An UPDATE that RLS blocks matches 0 rows without an error, so write probes
//! count rows: first as the connecting role (how many rows there are to
//! touch), then as the probed role.
//!
//! The plan is the fix itself, run in a transaction that is rolled back, with
//! the probes before and after it. The real run applies V010 through the
//! install machinery (lock, history row, checksum) with its audit row in the
//! same transaction.

use anyhow::{Context, Result};
use postgres::Transaction;
use postgres::error::SqlState;
use postgres::types::ToSql;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::{Format, RlsFixArgs};
use crate::commands::install;
use crate::confirm::confirm;
use crate::contract;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::migrations::{self, Migration};
use crate::output::{Report, Section, note};
use crate::sql;

/// The migration this command applies.
const MIGRATION: &str = "rls_least_privilege";

struct Roles<'a> {
    user: &'a str,
    anon: &'a str,
    webhook: &'a str,
}

/// What of Supabase's shape the database has.
struct Shape {
    user: bool,
    anon: bool,
    webhook: bool,
    auth_uid: bool,
    webhook_events: bool,
}

impl Shape {
    fn missing(&self, roles: &Roles<'_>) -> Vec<String> {
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
        if !self.auth_uid {
            missing.push("no function auth.uid()".to_string());
        }
        missing
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Denied,
}

enum Actual {
    Allowed(String),
    Denied(String),
    /// Nothing to try it on (no such row, no such role): neither pass nor fail.
    Untested(String),
    Error(String),
}

struct Probe {
    name: &'static str,
    role: String,
    expected: Expect,
    actual: Actual,
}

impl Probe {
    fn verdict(&self) -> &'static str {
        match (&self.actual, self.expected) {
            (Actual::Allowed(_), Expect::Allowed) | (Actual::Denied(_), Expect::Denied) => "ok",
            (Actual::Untested(_), _) => "untested",
            _ => "FAIL",
        }
    }

    fn failed(&self) -> bool {
        self.verdict() == "FAIL"
    }

    fn row(&self) -> Vec<Value> {
        let (actual, detail) = match &self.actual {
            Actual::Allowed(detail) => ("allowed", detail),
            Actual::Denied(detail) => ("denied", detail),
            Actual::Untested(detail) => ("untested", detail),
            Actual::Error(detail) => ("error", detail),
        };
        vec![
            self.name.into(),
            self.role.clone().into(),
            match self.expected {
                Expect::Allowed => "allowed",
                Expect::Denied => "denied",
            }
            .into(),
            actual.into(),
            self.verdict().into(),
            detail.clone().into(),
        ]
    }
}

/// The users and recharge the probes act on.
struct Subjects {
    me: Uuid,
    other: Uuid,
    recharge: Uuid,
    synthetic: bool,
}

pub fn run(db: &mut Db, args: &RlsFixArgs, format: Format) -> Result<Code> {
    contract::check(db)?.require_reference_layout("rls-fix")?;
    let roles = Roles {
        user: &args.user_role,
        anon: &args.anon_role,
        webhook: &args.webhook_role,
    };
    let shape = {
        let mut tx = db.read_only()?;
        let row = tx.query_one(
            sql::file("rls/roles.sql"),
            &[&roles.user, &roles.anon, &roles.webhook],
        )?;
        tx.commit()?;
        Shape {
            user: row.get("user_role_exists"),
            anon: row.get("anon_role_exists"),
            webhook: row.get("webhook_role_exists"),
            auth_uid: row.get("auth_uid_exists"),
            webhook_events: row.get("webhook_events_exist"),
        }
    };
    let missing = shape.missing(&roles);
    if !missing.is_empty() {
        note(format!(
            "This database is not Supabase-shaped: {}. Probes for a missing role are reported \
             as untested. Name the roles your API uses with --user-role, --anon-role and \
             --webhook-role.",
            missing.join(", ")
        ));
    }
    if args.check {
        return check(db, &roles, &shape, format);
    }
    if !missing.is_empty() {
        return Err(fail(
            Code::Contract,
            format!(
                "rls-fix cannot write its grants and policies here: {}. Name the roles your API \
                 uses with --user-role, --anon-role and --webhook-role, and provide auth.uid() \
                 (the signed-in user's id; Supabase has it). Nothing was written.",
                missing.join(", ")
            ),
        ));
    }
    fix(db, args, &roles, &shape, format)
}

fn check(db: &mut Db, roles: &Roles<'_>, shape: &Shape, format: Format) -> Result<Code> {
    let target = db.target.to_string();
    let mut tx = db.transaction()?;
    migrations::require_installed(&mut tx)?;
    let subjects = subjects(&mut tx)?;
    let tables = section(
        &mut tx,
        ("tables", "Row Level Security"),
        "rls/tables.sql",
        &["table_name", "rls_enabled", "rls_forced", "policies"],
        &[],
    )?;
    let policies = section(
        &mut tx,
        ("policies", "Policies"),
        "rls/policies.sql",
        &[
            "table_name",
            "policy",
            "permissive",
            "roles",
            "command",
            "using_expr",
            "with_check",
        ],
        &[],
    )?;
    let grants = section(
        &mut tx,
        ("grants", "Table grants"),
        "rls/grants.sql",
        &[
            "table_name",
            "role",
            "can_select",
            "can_insert",
            "can_update",
            "can_delete",
            "bypasses_rls",
        ],
        &[&roles.anon, &roles.user, &roles.webhook],
    )?;
    let lints = section(
        &mut tx,
        ("lints", "Supabase linter (splinter) findings"),
        "rls/lints.sql",
        &["lint", "level", "object", "detail"],
        &[&roles.anon, &roles.user],
    )?;
    let probes = run_probes(&mut tx, roles, shape, &subjects)?;
    tx.rollback()?;

    let failed = probes.iter().filter(|p| p.failed()).count();
    let mut report = Report::new("rls-fix");
    report.field("database", target);
    report.field("mode", "check");
    report.field("roles", roles_json(roles));
    report.field("supabase_shaped", shape.missing(roles).is_empty());
    report.field("probe_user_id", subjects.me.to_string());
    report.field("synthetic_user", subjects.synthetic);
    report.field("probes_failed", failed);
    report.sections = vec![
        tables,
        policies,
        grants,
        probe_section("probes", "Probes", &probes),
        lints,
    ];
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

fn fix(
    db: &mut Db,
    args: &RlsFixArgs,
    roles: &Roles<'_>,
    shape: &Shape,
    format: Format,
) -> Result<Code> {
    let target = db.target.to_string();
    let m = migrations::on_demand()?
        .into_iter()
        .find(|m| m.name == MIGRATION)
        .context("V010 rls_least_privilege is not embedded in this binary")?;
    let (applied, before, planned_drops, planned_after) = {
        let mut tx = db.transaction()?;
        migrations::require_installed(&mut tx)?;
        let applied = migrations::history(&mut tx)?
            .into_iter()
            .find(|a| a.version == m.version)
            .map(|a| a.checksum == m.checksum);
        let subjects = subjects(&mut tx)?;
        let before = run_probes(&mut tx, roles, shape, &subjects)?;
        let dropped = apply_fix(&mut tx, &m, roles)?;
        let after = run_probes(&mut tx, roles, shape, &subjects)?;
        tx.rollback()?;
        (applied, before, dropped, after)
    };
    let up_to_date = applied == Some(true) && !before.iter().any(Probe::failed);

    let mut changed = false;
    let (dropped, after) = if up_to_date {
        note(format!(
            "nothing to do: V{:03} {} is applied and every probe gives the expected answer",
            m.version, m.name
        ));
        (Vec::new(), planned_after)
    } else if args.write.dry_run {
        print_plan(&m, applied, &planned_drops, &planned_after);
        note("dry run: nothing was written");
        (planned_drops, planned_after)
    } else {
        print_plan(&m, applied, &planned_drops, &planned_after);
        confirm(
            &args.write,
            &format!("apply the RLS fix V{:03} to {target}", m.version),
        )?;
        let operator = args.write.operator.as_str();
        let reason = args.write.reason.as_deref();
        let dropped = install::apply_on_demand(db, &m, operator, reason, |tx| {
            let dropped = apply_fix(tx, &m, roles)?;
            let detail = json!({
                "migration": format!("V{:03} {}", m.version, m.name),
                "first_apply": applied.is_none(),
                "roles": roles_json(roles),
                "dropped_policies": dropped,
            });
            tx.execute(
                sql::file("rls/audit.sql"),
                &[&operator, &reason, &detail.to_string()],
            )?;
            Ok(dropped)
        })
        .context("the RLS fix failed and nothing was changed")?;
        changed = true;
        let after = {
            let mut tx = db.transaction()?;
            let subjects = subjects(&mut tx)?;
            let after = run_probes(&mut tx, roles, shape, &subjects)?;
            tx.rollback()?;
            after
        };
        (dropped, after)
    };

    let failed = after.iter().filter(|p| p.failed()).count();
    let mut dropped_section = Section::new(
        "dropped_policies",
        if args.write.dry_run {
            "Policies that would be dropped"
        } else {
            "Policies dropped"
        },
        &["table", "policy", "command", "roles", "using", "with_check"],
    );
    for policy in &dropped {
        dropped_section.push(
            ["table", "policy", "command", "roles", "using", "with_check"]
                .iter()
                .map(|key| policy[*key].clone())
                .collect(),
        );
    }
    let mut report = Report::new("rls-fix");
    report.field("database", target);
    report.field("mode", "fix");
    report.field("dry_run", args.write.dry_run);
    report.field("roles", roles_json(roles));
    report.field("migration", format!("V{:03} {}", m.version, m.name));
    report.field("changed", changed);
    report.field("probes_failed", failed);
    report.sections = vec![
        dropped_section,
        probe_section("probes_before", "Probes before", &before),
        probe_section(
            "probes_after",
            if args.write.dry_run {
                "Probes after (in a rolled-back transaction)"
            } else {
                "Probes after"
            },
            &after,
        ),
    ];
    report.csv_section = "probes_after";
    report.print(format)?;
    if failed == 0 {
        Ok(Code::Ok)
    } else {
        note(format!(
            "{failed} probe(s) still give the wrong answer after the fix: a policy it does not \
             drop (a SELECT policy wider than own rows, a restrictive one) is in the way; see \
             `credits rls-fix --check`"
        ));
        Ok(Code::ProblemsFound)
    }
}

fn print_plan(m: &Migration, applied: Option<bool>, dropped: &[Value], after: &[Probe]) {
    note("Plan:");
    note(match applied {
        None => format!(
            "  apply V{:03} {} (recorded in credits_ops.schema_history)",
            m.version, m.name
        ),
        Some(_) => format!(
            "  re-apply V{:03} {}: it is applied, but a probe fails (something changed since)",
            m.version, m.name
        ),
    });
    for policy in dropped {
        note(format!(
            "  drop policy {} on public.{} ({} for {}: USING {}, WITH CHECK {})",
            plain(&policy["policy"]),
            plain(&policy["table"]),
            plain(&policy["command"]),
            plain(&policy["roles"]),
            plain(&policy["using"]),
            plain(&policy["with_check"]),
        ));
    }
    note(
        "  enable RLS on the credits tables; revoke INSERT/UPDATE/DELETE from the user and anon \
         roles; users SELECT only their own rows; active packages readable; credits_ops \
         executable only by the webhook role (apply_recharge)",
    );
    note(format!(
        "  probes after the fix: {} of {} give the expected answer",
        after.iter().filter(|p| !p.failed()).count(),
        after.len()
    ));
}

fn plain(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        other => crate::output::plain(other),
    }
}

/// Runs V010 in `tx` for these roles; returns the policies it dropped.
fn apply_fix(tx: &mut Transaction<'_>, m: &Migration, roles: &Roles<'_>) -> Result<Vec<Value>> {
    tx.execute(
        sql::file("rls/fix_settings.sql"),
        &[&roles.user, &roles.anon, &roles.webhook],
    )?;
    tx.batch_execute(m.sql)
        .with_context(|| format!("running V{:03} {}", m.version, m.name))?;
    let dropped: String = tx
        .query_one(sql::file("rls/dropped.sql"), &[])?
        .get("dropped");
    Ok(serde_json::from_str(&dropped)?)
}

fn roles_json(roles: &Roles<'_>) -> Value {
    json!({"user": roles.user, "anon": roles.anon, "webhook": roles.webhook})
}

fn subjects(tx: &mut Transaction<'_>) -> Result<Subjects> {
    let row = tx.query_one(sql::file("rls/subjects.sql"), &[])?;
    let me: Option<Uuid> = row.get("me");
    Ok(Subjects {
        me: me.unwrap_or(row.get("synthetic_me")),
        other: row
            .get::<_, Option<Uuid>>("other")
            .unwrap_or(row.get("synthetic_other")),
        recharge: row
            .get::<_, Option<Uuid>>("recharge")
            .unwrap_or(row.get("synthetic_recharge")),
        synthetic: me.is_none(),
    })
}

/// A report section straight from a query: these columns, as text, booleans
/// or numbers.
fn section(
    tx: &mut Transaction<'_>,
    (name, title): (&'static str, &str),
    file: &str,
    columns: &[&'static str],
    params: &[&(dyn ToSql + Sync)],
) -> Result<Section> {
    let mut section = Section::new(name, title, columns);
    for row in tx.query(sql::file(file), params)? {
        let values = columns
            .iter()
            .map(|column| {
                if let Ok(value) = row.try_get::<_, Option<String>>(*column) {
                    return value.map_or(Value::Null, Value::from);
                }
                if let Ok(value) = row.try_get::<_, Option<bool>>(*column) {
                    return value.map_or(Value::Null, Value::from);
                }
                row.try_get::<_, Option<i64>>(*column)
                    .ok()
                    .flatten()
                    .map_or(Value::Null, Value::from)
            })
            .collect();
        section.push(values);
    }
    Ok(section)
}

fn probe_section(name: &'static str, title: &str, probes: &[Probe]) -> Section {
    let mut section = Section::new(
        name,
        title,
        &["probe", "role", "expected", "actual", "verdict", "detail"],
    );
    for probe in probes {
        section.push(probe.row());
    }
    section
}

fn message(error: &postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_string())
}

/// Runs `work` as `role` (with the claims of user `claims`, if any) in a
/// savepoint that is rolled back. Permission errors mean denied.
fn probe_as(
    tx: &mut Transaction<'_>,
    role: &str,
    exists: bool,
    claims: Option<Uuid>,
    work: impl FnOnce(&mut Transaction<'_>) -> Result<Actual, postgres::Error>,
) -> Result<Actual> {
    if !exists {
        return Ok(Actual::Untested(format!("role {role:?} does not exist")));
    }
    let claims = claims.map_or(String::new(), |id| {
        json!({"sub": id.to_string(), "role": role}).to_string()
    });
    let mut savepoint = tx.savepoint("credits_rls_probe")?;
    let actual = match savepoint.execute(sql::file("rls/act_as.sql"), &[&role, &claims]) {
        Err(error) => Actual::Error(format!("cannot act as {role}: {}", message(&error))),
        Ok(_) => match work(&mut savepoint) {
            Ok(actual) => actual,
            Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                Actual::Denied(message(&error))
            }
            Err(error) => Actual::Error(message(&error)),
        },
    };
    savepoint.rollback()?;
    Ok(actual)
}

/// A write probe: how many rows the statement touches as the connecting role
/// (none: untested), then as `role` (0 rows or a permission error: denied).
fn write_probe(
    tx: &mut Transaction<'_>,
    role: &str,
    exists: bool,
    claims: Option<Uuid>,
    file: &str,
    params: &[&(dyn ToSql + Sync)],
    what: &str,
) -> Result<Actual> {
    let statement = sql::file(file);
    let baseline = {
        let mut savepoint = tx.savepoint("credits_rls_baseline")?;
        let rows = savepoint.execute(statement, params);
        savepoint.rollback()?;
        rows
    };
    let total = match baseline {
        Ok(0) => return Ok(Actual::Untested(format!("no row to {what}"))),
        Ok(total) => total,
        Err(error) => {
            return Ok(Actual::Untested(format!(
                "cannot {what} even as the connecting role: {}",
                message(&error)
            )));
        }
    };
    probe_as(tx, role, exists, claims, |sp| {
        let rows = sp.execute(statement, params)?;
        Ok(if rows > 0 {
            Actual::Allowed(format!("{what}: {rows} row(s)"))
        } else {
            Actual::Denied(format!("{what}: 0 of {total} row(s) matched (RLS)"))
        })
    })
}

/// A read probe: rows seen as `role` against `total` rows there are.
fn seen(seen: i64, total: i64, what: &str) -> Actual {
    if total == 0 {
        Actual::Untested(format!("there is no {what} to read"))
    } else if seen > 0 {
        Actual::Allowed(format!("sees {seen} of {total} {what}"))
    } else {
        Actual::Denied(format!("sees none of {total} {what} (RLS)"))
    }
}

fn run_probes(
    tx: &mut Transaction<'_>,
    roles: &Roles<'_>,
    shape: &Shape,
    subjects: &Subjects,
) -> Result<Vec<Probe>> {
    let (me, other) = (subjects.me, subjects.other);
    let mut probes = Vec::new();
    let mut push = |name, role: &str, expected, actual| {
        probes.push(Probe {
            name,
            role: role.to_string(),
            expected,
            actual,
        });
    };

    // As the webhook: credit through the one crediting path.
    let recharge = subjects.recharge;
    let actual = probe_as(tx, roles.webhook, shape.webhook, None, |sp| {
        let action: String = sp
            .query_one(sql::file("rls/probe_apply_recharge.sql"), &[&recharge])?
            .get("action");
        Ok(Actual::Allowed(format!(
            "apply_recharge ran for recharge {recharge}: {action}"
        )))
    })?;
    push(
        "webhook_apply_recharge",
        roles.webhook,
        Expect::Allowed,
        actual,
    );

    // What there is to read, as the connecting role.
    let ledger = tx.query_one(sql::file("rls/probe_read_ledger.sql"), &[&me])?;
    let (own_total, others_total): (i64, i64) = (ledger.get("own"), ledger.get("others"));
    let packages = tx.query_one(sql::file("rls/probe_read_packages.sql"), &[])?;
    let (active_total, inactive_total): (i64, i64) =
        (packages.get("active"), packages.get("inactive"));

    // As a signed-in user.
    let user_seen = read_ledger(tx, roles.user, shape.user, Some(me), me)?;
    match user_seen {
        Ok((own, others)) => {
            push(
                "user_reads_own_rows",
                roles.user,
                Expect::Allowed,
                seen(own, own_total, "own ledger rows"),
            );
            push(
                "user_reads_other_users_rows",
                roles.user,
                Expect::Denied,
                seen(others, others_total, "ledger rows of other users"),
            );
        }
        Err(actual) => {
            let again = clone_actual(&actual);
            push("user_reads_own_rows", roles.user, Expect::Allowed, actual);
            push(
                "user_reads_other_users_rows",
                roles.user,
                Expect::Denied,
                again,
            );
        }
    }
    // What a signed-in user must not be able to write.
    let user_writes: [(&str, &str, &[&(dyn postgres::types::ToSql + Sync)], &str); 4] = [
        (
            "user_inserts_credit_transaction",
            "rls/probe_insert_transaction.sql",
            &[&me],
            "insert a credit_transaction of 1000000 credits",
        ),
        (
            "user_updates_balance",
            "rls/probe_update_balance.sql",
            &[&me, &other],
            "raise a balance by 1000000",
        ),
        (
            "user_updates_recharge_status",
            "rls/probe_update_recharge.sql",
            &[&me, &other],
            "set a recharge's status to completed",
        ),
        (
            "user_changes_package",
            "rls/probe_update_package.sql",
            &[],
            "change what a package grants",
        ),
    ];
    for (probe, file, params, what) in user_writes {
        let actual = write_probe(tx, roles.user, shape.user, Some(me), file, params, what)?;
        push(probe, roles.user, Expect::Denied, actual);
    }
    let actual = execute_probe(tx, roles.user, shape.user, Some(me), recharge)?;
    push(
        "user_executes_credits_ops",
        roles.user,
        Expect::Denied,
        actual,
    );
    let packages = read_packages(tx, roles.user, shape.user, Some(me))?;
    push(
        "user_reads_active_packages",
        roles.user,
        Expect::Allowed,
        package_seen(&packages, true, active_total),
    );
    push(
        "user_reads_inactive_packages",
        roles.user,
        Expect::Denied,
        package_seen(&packages, false, inactive_total),
    );

    // As anon: no user at all.
    let anon_seen = read_ledger(tx, roles.anon, shape.anon, None, me)?;
    push(
        "anon_reads_ledger",
        roles.anon,
        Expect::Denied,
        match anon_seen {
            Ok((own, others)) => seen(own + others, own_total + others_total, "ledger rows"),
            Err(actual) => actual,
        },
    );
    if shape.webhook_events {
        let total: i64 = tx
            .query_one(sql::file("rls/probe_read_webhook_events.sql"), &[])?
            .get("visible");
        let actual = probe_as(tx, roles.anon, shape.anon, None, |sp| {
            let visible: i64 = sp
                .query_one(sql::file("rls/probe_read_webhook_events.sql"), &[])?
                .get("visible");
            Ok(seen(visible, total, "stored webhook events"))
        })?;
        push(
            "anon_reads_webhook_events",
            roles.anon,
            Expect::Denied,
            actual,
        );
    }
    let actual = write_probe(
        tx,
        roles.anon,
        shape.anon,
        None,
        "rls/probe_insert_transaction.sql",
        &[&me],
        "insert a credit_transaction of 1000000 credits",
    )?;
    push(
        "anon_inserts_credit_transaction",
        roles.anon,
        Expect::Denied,
        actual,
    );
    let actual = execute_probe(tx, roles.anon, shape.anon, None, recharge)?;
    push(
        "anon_executes_credits_ops",
        roles.anon,
        Expect::Denied,
        actual,
    );
    let packages = read_packages(tx, roles.anon, shape.anon, None)?;
    push(
        "anon_reads_active_packages",
        roles.anon,
        Expect::Allowed,
        package_seen(&packages, true, active_total),
    );
    push(
        "anon_reads_inactive_packages",
        roles.anon,
        Expect::Denied,
        package_seen(&packages, false, inactive_total),
    );
    Ok(probes)
}

fn clone_actual(actual: &Actual) -> Actual {
    match actual {
        Actual::Allowed(detail) => Actual::Allowed(detail.clone()),
        Actual::Denied(detail) => Actual::Denied(detail.clone()),
        Actual::Untested(detail) => Actual::Untested(detail.clone()),
        Actual::Error(detail) => Actual::Error(detail.clone()),
    }
}

/// The ledger rows `role` sees (own, others'), or the outcome when it cannot read.
fn read_ledger(
    tx: &mut Transaction<'_>,
    role: &str,
    exists: bool,
    claims: Option<Uuid>,
    me: Uuid,
) -> Result<Result<(i64, i64), Actual>> {
    let mut counts = None;
    let actual = probe_as(tx, role, exists, claims, |sp| {
        let row = sp.query_one(sql::file("rls/probe_read_ledger.sql"), &[&me])?;
        counts = Some((row.get("own"), row.get("others")));
        Ok(Actual::Allowed(String::new()))
    })?;
    Ok(counts.ok_or(actual))
}

/// Packages `role` sees: (active, inactive), or the outcome when it cannot read.
fn read_packages(
    tx: &mut Transaction<'_>,
    role: &str,
    exists: bool,
    claims: Option<Uuid>,
) -> Result<Result<(i64, i64), Actual>> {
    let mut counts = None;
    let actual = probe_as(tx, role, exists, claims, |sp| {
        let row = sp.query_one(sql::file("rls/probe_read_packages.sql"), &[])?;
        counts = Some((row.get("active"), row.get("inactive")));
        Ok(Actual::Allowed(String::new()))
    })?;
    Ok(counts.ok_or(actual))
}

fn package_seen(counts: &Result<(i64, i64), Actual>, active: bool, total: i64) -> Actual {
    let what = if active {
        "active packages"
    } else {
        "inactive packages"
    };
    match counts {
        Ok((visible, _)) if active => seen(*visible, total, what),
        Ok((_, visible)) => seen(*visible, total, what),
        Err(actual) => clone_actual(actual),
    }
}

/// Can `role` run the tool's functions: call apply_recharge, and list what
/// else of credits_ops it may execute.
fn execute_probe(
    tx: &mut Transaction<'_>,
    role: &str,
    exists: bool,
    claims: Option<Uuid>,
    recharge: Uuid,
) -> Result<Actual> {
    let actual = probe_as(tx, role, exists, claims, |sp| {
        let action: String = sp
            .query_one(sql::file("rls/probe_apply_recharge.sql"), &[&recharge])?
            .get("action");
        Ok(Actual::Allowed(format!(
            "apply_recharge ran for recharge {recharge}: {action}"
        )))
    })?;
    if !matches!(actual, Actual::Denied(_)) {
        return Ok(actual);
    }
    let functions: Vec<String> = tx
        .query(sql::file("rls/executable_functions.sql"), &[&role])?
        .iter()
        .map(|row| row.get("function"))
        .collect();
    Ok(if functions.is_empty() {
        Actual::Denied("no EXECUTE on any credits_ops function".to_string())
    } else {
        Actual::Allowed(format!("may execute {}", functions.join(", ")))
    })
}
