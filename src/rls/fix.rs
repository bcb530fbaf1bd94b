//! The least-privilege fix, V010: planned in a transaction that is rolled
//! back, applied through the install machinery, reported with the probes
//! before and after.

use anyhow::{Context, Result};
use postgres::Transaction;
use serde_json::{Value, json};

use crate::cli::{Format, WriteOpts};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::migrations::{self, Migration};
use crate::output::{Report, Section, note};
use crate::sql;

use super::{Roles, Setup, Subjects, probes};

/// The migration this fix is.
const MIGRATION: &str = "rls_least_privilege";

/// What V010 did: the policies it dropped and the app's functions it
/// revoked from the API roles (JSON objects, as recorded in the audit log).
pub struct Done {
    pub dropped: Vec<Value>,
    pub revoked: Vec<Value>,
}

pub fn apply(tx: &mut Transaction<'_>, m: &Migration, roles: &Roles<'_>) -> Result<Done> {
    tx.execute(
        sql::RLS_FIX_SETTINGS,
        &[&roles.user, &roles.anon, &roles.webhook],
    )?;
    tx.batch_execute(m.sql)
        .with_context(|| format!("running {m}"))?;
    let row = tx.query_one(sql::RLS_DROPPED, &[])?;
    Ok(Done {
        dropped: serde_json::from_str(row.get("dropped"))?,
        revoked: serde_json::from_str(row.get("revoked"))?,
    })
}

/// The fix: planned as V010 run in a transaction that is rolled back, with
/// the probes before and after it; applied through the install machinery
/// (lock, history row, checksum) with its audit row in the same
/// transaction; nothing when it is applied and every probe passes.
pub fn run(
    db: &mut Db,
    write: &WriteOpts,
    roles: &Roles<'_>,
    setup: &Setup,
    format: Format,
) -> Result<Code> {
    let target = db.target.to_string();
    let m = migrations::on_demand()?
        .into_iter()
        .find(|m| m.name == MIGRATION)
        .context("V010 rls_least_privilege is not embedded in this binary")?;
    let (applied, before, planned, planned_after) = {
        let mut tx = db.transaction()?;
        let applied = migrations::history(&mut tx)?
            .into_iter()
            .find(|a| a.version == m.version)
            .map(|a| a.checksum == m.checksum);
        let subjects = Subjects::read(&mut tx)?;
        let before = probes::run(&mut tx, roles, setup, &subjects)?;
        let planned = apply(&mut tx, &m, roles)?;
        let after = probes::run(&mut tx, roles, setup, &subjects)?;
        tx.rollback()?;
        (applied, before, planned, after)
    };
    let up_to_date = applied == Some(true) && !before.iter().any(probes::Probe::failed);

    let mut changed = false;
    let (done, after) = if up_to_date {
        note(format!(
            "nothing to do: {m} is applied and every probe gives the expected answer"
        ));
        (
            Done {
                dropped: Vec::new(),
                revoked: Vec::new(),
            },
            planned_after,
        )
    } else if write.dry_run {
        print_plan(&m, applied, &planned, &planned_after);
        note("dry run: nothing was written");
        (planned, planned_after)
    } else {
        print_plan(&m, applied, &planned, &planned_after);
        confirm(
            write,
            &target,
            &format!("apply the RLS fix V{:03}", m.version),
        )?;
        let operator = write.operator.as_str();
        let reason = write.reason.as_deref();
        let done = migrations::apply_on_demand(db, &m, operator, reason, |tx| {
            let done = apply(tx, &m, roles)?;
            let detail = json!({
                "migration": m.to_string(),
                "first_apply": applied.is_none(),
                "roles": roles.json(),
                "dropped_policies": done.dropped,
                "revoked_functions": done.revoked,
            });
            tx.execute(sql::RLS_AUDIT, &[&operator, &reason, &detail.to_string()])?;
            Ok(done)
        })
        .context("the RLS fix failed and nothing was changed")?;
        changed = true;
        let after = {
            let mut tx = db.transaction()?;
            let subjects = Subjects::read(&mut tx)?;
            let after = probes::run(&mut tx, roles, setup, &subjects)?;
            tx.rollback()?;
            after
        };
        (done, after)
    };

    let failed = after.iter().filter(|p| p.failed()).count();
    let mut report = Report::new("rls-fix");
    report.field("database", target);
    report.field("mode", "fix");
    report.field("dry_run", write.dry_run);
    report.field("roles", roles.json());
    report.field("migration", m.to_string());
    report.field("changed", changed);
    report.field("probes_failed", failed);
    let (dropped_title, revoked_title) = if write.dry_run {
        (
            "Policies that would be dropped",
            "App functions that would be revoked from the API roles",
        )
    } else {
        (
            "Policies dropped",
            "App functions revoked from the API roles",
        )
    };
    report.sections = vec![
        json_section(
            "dropped_policies",
            dropped_title,
            &["table", "policy", "command", "roles", "using", "with_check"],
            &done.dropped,
        ),
        json_section(
            "revoked_functions",
            revoked_title,
            &["function", "revoked_from", "kept_for"],
            &done.revoked,
        ),
        probes::section("probes_before", "Probes before", &before),
        probes::section(
            "probes_after",
            if write.dry_run {
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

fn json_section(
    name: &'static str,
    title: &str,
    columns: &[&'static str],
    rows: &[Value],
) -> Section {
    let mut section = Section::new(name, title, columns);
    for row in rows {
        section.push(columns.iter().map(|key| row[*key].clone()).collect());
    }
    section
}

fn print_plan(m: &Migration, applied: Option<bool>, planned: &Done, after: &[probes::Probe]) {
    note("Plan:");
    note(match applied {
        None => format!("  apply {m} (recorded in credits_ops.schema_history)"),
        Some(_) => {
            format!("  re-apply {m}: it is applied, but a probe fails (something changed since)")
        }
    });
    for policy in &planned.dropped {
        note(format!(
            "  drop policy {} on {} ({} for {}: USING {}, WITH CHECK {})",
            plain(&policy["policy"]),
            plain(&policy["table"]),
            plain(&policy["command"]),
            plain(&policy["roles"]),
            plain(&policy["using"]),
            plain(&policy["with_check"]),
        ));
    }
    for function in &planned.revoked {
        note(format!(
            "  revoke EXECUTE on {} from PUBLIC and the API roles; keep it for {}",
            plain(&function["function"]),
            plain(&function["kept_for"]),
        ));
    }
    note(
        "  enable RLS on the credits tables; revoke INSERT/UPDATE/DELETE from the user and anon \
         roles; users SELECT only their own rows; active packages readable; webhook events and \
         evidence tables closed to them; credits_ops executable only by the webhook role \
         (apply_recharge)",
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
