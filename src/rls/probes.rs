//! What the API roles can really do, found by trying.
//!
//! Every probe runs in its own savepoint of one transaction that is always
//! rolled back: act as the role (`set_config('role', ...)`, as SET LOCAL ROLE)
//! with the JWT claims auth.uid() and auth.jwt() read, try the thing, note
//! what happened. An UPDATE that RLS blocks matches 0 rows without an error,
//! so write probes count rows: first as the connecting role (how many rows
//! there are to touch), then as the probed role. The statements run on the
//! app's own tables, as the adapter generated them for this app.

use anyhow::Result;
use postgres::Statement;
use postgres::Transaction;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use serde_json::{Value, json};

use crate::output::Section;
use crate::sql;

use super::{Roles, Setup, Subjects};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allowed,
    Denied,
}

#[derive(Clone)]
pub enum Actual {
    Allowed(String),
    Denied(String),
    /// Nothing to try it on (no such row, table or role): neither pass nor fail.
    Untested(String),
    Error(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Untested,
    Fail,
}

pub struct Probe {
    pub name: &'static str,
    pub role: String,
    pub expected: Expect,
    pub actual: Actual,
}

impl Probe {
    pub fn verdict(&self) -> Verdict {
        match (&self.actual, self.expected) {
            (Actual::Allowed(_), Expect::Allowed) | (Actual::Denied(_), Expect::Denied) => {
                Verdict::Ok
            }
            (Actual::Untested(_), _) => Verdict::Untested,
            _ => Verdict::Fail,
        }
    }

    pub fn failed(&self) -> bool {
        self.verdict() == Verdict::Fail
    }

    fn row(&self) -> Vec<Value> {
        let (actual, detail) = match &self.actual {
            Actual::Allowed(detail) => ("allowed", detail),
            Actual::Denied(detail) => ("denied", detail),
            Actual::Untested(detail) => ("untested", detail),
            Actual::Error(detail) => ("error", detail),
        };
        let expected = match self.expected {
            Expect::Allowed => "allowed",
            Expect::Denied => "denied",
        };
        let verdict = match self.verdict() {
            Verdict::Ok => "ok",
            Verdict::Untested => "untested",
            Verdict::Fail => "FAIL",
        };
        vec![
            self.name.into(),
            self.role.clone().into(),
            expected.into(),
            actual.into(),
            verdict.into(),
            detail.clone().into(),
        ]
    }
}

pub fn section(name: &'static str, title: &str, probes: &[Probe]) -> Section {
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

/// Who a probe acts as: the role, whether it exists, and the signed-in
/// user's id for the JWT claims (none for anon and the webhook).
struct As<'a> {
    role: &'a str,
    exists: bool,
    claims: Option<&'a str>,
}

fn message(error: &postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_string())
}

/// Runs `work` as `who` in a savepoint that is rolled back. Permission
/// errors mean denied.
fn probe_as(
    tx: &mut Transaction<'_>,
    who: &As<'_>,
    work: impl FnOnce(&mut Transaction<'_>) -> Result<Actual, postgres::Error>,
) -> Result<Actual> {
    if !who.exists {
        return Ok(Actual::Untested(format!(
            "role {:?} does not exist",
            who.role
        )));
    }
    let claims = who.claims.map_or(String::new(), |id| {
        json!({"sub": id, "role": who.role}).to_string()
    });
    let mut savepoint = tx.savepoint("credits_rls_probe")?;
    let actual = match savepoint.execute(sql::RLS_ACT_AS, &[&who.role, &claims]) {
        Err(error) => Actual::Error(format!("cannot act as {}: {}", who.role, message(&error))),
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

/// The adapter's statement `name` for this app, and the app's recharge type.
fn statement(tx: &mut Transaction<'_>, name: &str) -> Result<(Option<String>, String)> {
    let row = tx.query_one(sql::RLS_PROBE_STATEMENT, &[&name])?;
    Ok((row.get("statement"), row.get("recharge_type")))
}

/// A write probe: how many rows the statement touches as the connecting role
/// (none: untested), then as `who` (0 rows or a permission error: denied).
fn write_probe(
    tx: &mut Transaction<'_>,
    who: &As<'_>,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    what: &str,
) -> Result<Actual> {
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
    probe_as(tx, who, |sp| {
        let rows = sp.execute(statement, params)?;
        Ok(if rows > 0 {
            Actual::Allowed(format!("{what}: {rows} row(s)"))
        } else {
            Actual::Denied(format!("{what}: 0 of {total} row(s) matched (RLS)"))
        })
    })
}

/// A read probe: rows seen as the role against `total` rows there are.
fn seen(seen: i64, total: i64, what: &str) -> Actual {
    if total == 0 {
        Actual::Untested(format!("there is no {what} to read"))
    } else if seen > 0 {
        Actual::Allowed(format!("sees {seen} of {total} {what}"))
    } else {
        Actual::Denied(format!("sees none of {total} {what} (RLS)"))
    }
}

/// Counts two columns of a read statement, or the outcome when it cannot read.
fn read_pair(
    tx: &mut Transaction<'_>,
    who: &As<'_>,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
    columns: (&str, &str),
) -> Result<Result<(i64, i64), Actual>> {
    let mut counts = None;
    let actual = probe_as(tx, who, |sp| {
        let row = sp.query_one(statement, params)?;
        counts = Some((row.get(columns.0), row.get(columns.1)));
        Ok(Actual::Allowed(String::new()))
    })?;
    Ok(counts.ok_or(actual))
}

fn pick(counts: &Result<(i64, i64), Actual>, first: bool, total: i64, what: &str) -> Actual {
    match counts {
        Ok((a, b)) => seen(if first { *a } else { *b }, total, what),
        Err(actual) => actual.clone(),
    }
}

/// Names from a catalog query for a role: none is denied, any is allowed.
fn listed(
    tx: &mut Transaction<'_>,
    who: &As<'_>,
    file: &str,
    column: &str,
    what: &str,
) -> Result<Actual> {
    if !who.exists {
        return Ok(Actual::Untested(format!(
            "role {:?} does not exist",
            who.role
        )));
    }
    let names: Vec<String> = tx
        .query(file, &[&who.role])?
        .iter()
        .map(|row| row.get(column))
        .collect();
    Ok(if names.is_empty() {
        Actual::Denied(format!("no {what}"))
    } else {
        Actual::Allowed(names.join(", "))
    })
}

/// Calls credits_ops.apply_recharge as the role (rolled back).
fn apply_recharge_as(tx: &mut Transaction<'_>, who: &As<'_>, recharge: &str) -> Result<Actual> {
    probe_as(tx, who, |sp| {
        let action: String = sp
            .query_one(sql::RLS_PROBE_APPLY_RECHARGE, &[&recharge])?
            .get("action");
        Ok(Actual::Allowed(format!(
            "apply_recharge ran for recharge {recharge}: {action}"
        )))
    })
}

/// Can the role run the tool's functions: call apply_recharge, and list what
/// else of credits_ops it may execute.
fn execute_probe(tx: &mut Transaction<'_>, who: &As<'_>, recharge: &str) -> Result<Actual> {
    let actual = apply_recharge_as(tx, who, recharge)?;
    if !matches!(actual, Actual::Denied(_)) {
        return Ok(actual);
    }
    listed(
        tx,
        who,
        sql::RLS_EXECUTABLE_FUNCTIONS,
        "function",
        "EXECUTE on any credits_ops function",
    )
}

/// Every probe, in report order.
pub fn run(
    tx: &mut Transaction<'_>,
    roles: &Roles<'_>,
    setup: &Setup,
    subjects: &Subjects,
) -> Result<Vec<Probe>> {
    let (me, other, recharge) = (
        subjects.me.as_str(),
        subjects.other.as_str(),
        subjects.recharge.as_str(),
    );
    let webhook = As {
        role: roles.webhook,
        exists: setup.webhook,
        claims: None,
    };
    let user = As {
        role: roles.user,
        exists: setup.user,
        claims: Some(me),
    };
    let anon = As {
        role: roles.anon,
        exists: setup.anon,
        claims: None,
    };
    let mut probes = Vec::new();
    let mut push = |name, who: &As<'_>, expected, actual| {
        probes.push(Probe {
            name,
            role: who.role.to_string(),
            expected,
            actual,
        });
    };

    // As the webhook: credit through the one crediting path.
    let actual = apply_recharge_as(tx, &webhook, recharge)?;
    push("webhook_apply_recharge", &webhook, Expect::Allowed, actual);

    // What there is to read, as the connecting role.
    let (read_ledger, _) = statement(tx, "probe_read_ledger")?;
    let read_ledger = read_ledger.unwrap_or_default();
    let row = tx.query_one(&read_ledger, &[&me])?;
    let (own_total, others_total): (i64, i64) = (row.get("own"), row.get("others"));
    let (read_packages, _) = statement(tx, "probe_read_packages")?;
    let read_packages = read_packages.unwrap_or_default();
    let row = tx.query_one(&read_packages, &[])?;
    let (active_total, inactive_total): (i64, i64) = (row.get("active"), row.get("inactive"));

    // As a signed-in user: their own rows, and nobody else's.
    let counts = read_pair(tx, &user, &read_ledger, &[&me], ("own", "others"))?;
    push(
        "user_reads_own_rows",
        &user,
        Expect::Allowed,
        pick(&counts, true, own_total, "own ledger rows"),
    );
    push(
        "user_reads_other_users_rows",
        &user,
        Expect::Denied,
        pick(&counts, false, others_total, "ledger rows of other users"),
    );

    // What neither a signed-in user nor anon may write.
    let (append, recharge_type) = statement(tx, "ledger_append")?;
    // Typed: the app's ledger may not use every parameter ($5 balance_after...).
    let append = tx.prepare_typed(
        &append.unwrap_or_default(),
        &[
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::JSONB,
        ],
    )?;
    let metadata = json!({"written_by": "credits rls-fix probe"});
    let none: Option<String> = None;
    let insert: [&(dyn ToSql + Sync); 7] = [
        &me,
        &1_000_000i64,
        &recharge_type,
        &none,
        &1_000_000i64,
        &"credits rls-fix probe",
        &metadata,
    ];
    let insert_what = "insert a ledger row of 1000000 credits";
    let actual = write_probe(tx, &user, &append, &insert, insert_what)?;
    push(
        "user_inserts_credit_transaction",
        &user,
        Expect::Denied,
        actual,
    );
    for (probe, name, params, what) in [
        (
            "user_updates_balance",
            "probe_update_balance",
            &[&me as &(dyn ToSql + Sync), &other][..],
            "raise a balance by 1000000",
        ),
        (
            "user_updates_recharge_status",
            "probe_update_recharge",
            &[&me, &other],
            "set a recharge's status to completed",
        ),
        (
            "user_changes_package",
            "probe_update_package",
            &[],
            "change what a package grants",
        ),
    ] {
        let (statement, _) = statement(tx, name)?;
        let statement = tx.prepare(&statement.unwrap_or_default())?;
        let actual = write_probe(tx, &user, &statement, params, what)?;
        push(probe, &user, Expect::Denied, actual);
    }

    for who in [&user, &anon] {
        let signed_in = who.claims.is_some();
        if !signed_in {
            // Anon reads no ledger, and no stored webhook event.
            let counts = read_pair(tx, who, &read_ledger, &[&me], ("own", "others"))?;
            push(
                "anon_reads_ledger",
                who,
                Expect::Denied,
                match counts {
                    Ok((own, others)) => {
                        seen(own + others, own_total + others_total, "ledger rows")
                    }
                    Err(actual) => actual,
                },
            );
            if let (Some(read_events), _) = statement(tx, "probe_read_webhook_events")? {
                let total: i64 = tx.query_one(&read_events, &[])?.get("visible");
                let actual = probe_as(tx, who, |sp| {
                    let visible: i64 = sp.query_one(&read_events, &[])?.get("visible");
                    Ok(seen(visible, total, "stored webhook events"))
                })?;
                push("anon_reads_webhook_events", who, Expect::Denied, actual);
            }
            let actual = write_probe(tx, who, &append, &insert, insert_what)?;
            push(
                "anon_inserts_credit_transaction",
                who,
                Expect::Denied,
                actual,
            );
        }
        let actual = execute_probe(tx, who, recharge)?;
        push(
            if signed_in {
                "user_executes_credits_ops"
            } else {
                "anon_executes_credits_ops"
            },
            who,
            Expect::Denied,
            actual,
        );
        let actual = listed(
            tx,
            who,
            sql::RLS_DEFINER_FUNCTIONS,
            "function",
            "SECURITY DEFINER function writing the credits tables is executable",
        )?;
        push(
            if signed_in {
                "user_executes_app_crediting_functions"
            } else {
                "anon_executes_app_crediting_functions"
            },
            who,
            Expect::Denied,
            actual,
        );
        let actual = match listed(
            tx,
            who,
            sql::RLS_EVIDENCE_WRITABLE,
            "table_name",
            "evidence table is writable",
        )? {
            Actual::Denied(_) if !has_evidence_tables(tx)? => {
                Actual::Untested("the app keeps no evidence table".to_string())
            }
            actual => actual,
        };
        push(
            if signed_in {
                "user_inserts_evidence"
            } else {
                "anon_inserts_evidence"
            },
            who,
            Expect::Denied,
            actual,
        );
        let counts = read_pair(tx, who, &read_packages, &[], ("active", "inactive"))?;
        push(
            if signed_in {
                "user_reads_active_packages"
            } else {
                "anon_reads_active_packages"
            },
            who,
            Expect::Allowed,
            pick(&counts, true, active_total, "active packages"),
        );
        push(
            if signed_in {
                "user_reads_inactive_packages"
            } else {
                "anon_reads_inactive_packages"
            },
            who,
            Expect::Denied,
            pick(&counts, false, inactive_total, "inactive packages"),
        );
    }
    Ok(probes)
}

fn has_evidence_tables(tx: &mut Transaction<'_>) -> Result<bool> {
    Ok(tx.query_one(sql::RLS_EVIDENCE_TABLES, &[])?.get("present"))
}
