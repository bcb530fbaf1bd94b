//! `credits install`: apply the pending migrations, each atomically with its
//! history row, serialised by an advisory lock.

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::{Format, InstallArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::migrations::{self, Migration, Rehearsal};
use crate::output::{Report, Section, note};
use crate::profile;

pub fn run(db: &mut Db, args: &InstallArgs, format: Format) -> Result<Code> {
    let migrations = migrations::embedded()?;
    let config = db.config.clone();
    let (profile, stored, applied) = {
        let mut tx = db.read_only()?;
        let profile = profile::detect(&mut tx, config.as_deref())?;
        let stored = profile::stored_checksum(&mut tx)?;
        let applied = migrations::history(&mut tx)?;
        tx.commit()?;
        (profile, stored, applied)
    };
    // The app (or the mapping file) changed since the adapter was built.
    let rebuild = stored.as_ref().is_some_and(|s| *s != profile.checksum);
    let drifted: Vec<String> = migrations
        .iter()
        .filter(|m| {
            applied
                .iter()
                .any(|a| a.version == m.version && a.checksum != m.checksum)
        })
        .map(|m| m.to_string())
        .collect();
    if !drifted.is_empty() {
        return Err(fail(
            Code::ProblemsFound,
            format!(
                "applied migrations differ from this binary's: {}. Nothing was applied; \
                 see `credits status` and restore the original files before installing.",
                drifted.join(", ")
            ),
        ));
    }
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect();

    let mut report = Report::new("install");
    report.field("database", db.target.to_string());
    report.field("dry_run", args.write.dry_run);
    let mut section = Section::new(
        "migrations",
        "Migrations",
        &[
            "version",
            "name",
            "in_transaction",
            "action",
            "execution_ms",
        ],
    );
    let row = |m: &Migration, action: &str, ms: Option<i64>| {
        vec![
            Value::from(m.version),
            m.name.clone().into(),
            m.transactional.into(),
            action.into(),
            ms.map_or(Value::Null, Value::from),
        ]
    };

    // A migration whose precondition finds obstacles is left pending, and
    // listed; the others go ahead (a blocked one must be optional).
    let mut blocked: Vec<(&Migration, Vec<String>)> = Vec::new();
    let mut applicable: Vec<&Migration> = Vec::new();
    let adapter_built = stored.is_some();
    for m in pending {
        // Before the first install there is no adapter to check against: the
        // precondition is checked again right before the migration runs.
        let obstacles = if adapter_built {
            migrations::obstacles(db, m)?
        } else {
            Vec::new()
        };
        if obstacles.is_empty() {
            applicable.push(m);
        } else {
            section.push(row(
                m,
                if args.write.dry_run {
                    "would be blocked"
                } else {
                    "blocked"
                },
                None,
            ));
            blocked.push((m, obstacles));
        }
    }

    if profile.json["roles"].get("webhook_events").is_none() {
        note(
            "public.stripe_webhook_event does not exist: nothing to index; the checks that need stored webhook events are skipped",
        );
    }
    if rebuild {
        if args.write.dry_run {
            note(
                "dry run: the app profile changed since the last install; the adapter would be rebuilt",
            );
        } else {
            confirm(
                &args.write,
                &db.target,
                "rebuild the adapter for the changed app profile",
            )?;
            migrations::rebuild_adapter(
                db,
                &profile,
                (&migrations, &applied),
                &args.write.operator,
                args.write.reason.as_deref(),
            )?;
            note("the app profile changed: the adapter views, statements and indexes were rebuilt");
        }
    }
    if applicable.is_empty() {
        note(format!(
            "nothing to apply: {} of {} migrations are applied",
            migrations.len() - blocked.len(),
            migrations.len()
        ));
    } else if args.write.dry_run {
        let rehearsal = migrations::rehearse(db, &applicable, &profile)?;
        let mut failed = None;
        for (m, outcome) in applicable.iter().zip(&rehearsal) {
            match outcome {
                Rehearsal::Applies(statements) => {
                    section.push(row(m, "would apply", None));
                    for statement in statements {
                        note(format!("  V{:03} would run: {statement}", m.version));
                    }
                }
                Rehearsal::Blocked(obstacles) => {
                    section.push(row(m, "would be blocked", None));
                    blocked.push((m, obstacles.clone()));
                }
                Rehearsal::Fails(error) => {
                    section.push(row(m, "would FAIL", None));
                    failed = Some(format!("{m} would fail: {error}"));
                }
            }
        }
        note(
            "dry run: every pending migration was run in a transaction that was rolled back \
             (indexes: only their statements were generated); nothing was written",
        );
        if let Some(failed) = failed {
            section.rows.sort_by_key(|row| row[0].as_i64());
            report.sections.push(section);
            report.print(format)?;
            return Err(fail(
                Code::Contract,
                format!(
                    "{failed}. Nothing was written; see `credits profile` for how this app was mapped."
                ),
            ));
        }
    } else {
        // Rehearse first: a migration that would fail on this app is found
        // before anything is applied, so a failed install changes nothing.
        for (m, outcome) in applicable
            .iter()
            .zip(migrations::rehearse(db, &applicable, &profile)?)
        {
            if let Rehearsal::Fails(error) = outcome {
                return Err(fail(
                    Code::Contract,
                    format!(
                        "{m} would fail on this database: {error}. Nothing was applied; \
                         see `credits profile` for how this app was mapped."
                    ),
                ));
            }
        }
        print_plan(&applicable);
        confirm(
            &args.write,
            &db.target,
            &format!("apply {} migration(s)", applicable.len()),
        )?;
        migrations::create_history(db)?;
        for (done, m) in applicable.iter().enumerate() {
            let late = migrations::obstacles(db, m)?;
            if !late.is_empty() {
                section.push(row(m, "blocked", None));
                blocked.push((m, late));
                continue;
            }
            let outcome = migrations::apply(
                db,
                m,
                &profile,
                &args.write.operator,
                args.write.reason.as_deref(),
            )
            .with_context(|| {
                let before: Vec<String> = applicable[..done]
                    .iter()
                    .map(|m| format!("V{:03}", m.version))
                    .collect();
                format!(
                    "{m} failed and was not recorded; applied before it in this run: {}. \
                         Fix the cause and run `credits install` again",
                    if before.is_empty() {
                        "none".to_string()
                    } else {
                        before.join(", ")
                    }
                )
            })?;
            section.push(match outcome {
                Some(ms) => row(m, "applied", Some(ms)),
                None => row(m, "already applied by a concurrent install", None),
            });
        }
    }
    section.rows.sort_by_key(|row| row[0].as_i64());
    report.sections.push(section);
    report.print(format)?;
    // Only optional migrations get here blocked (the commands work without
    // them), so the install itself succeeded: exit 0, and say it loudly.
    for (m, obstacles) in &blocked {
        let shown: Vec<&str> = obstacles.iter().take(20).map(String::as_str).collect();
        let more = obstacles.len().saturating_sub(shown.len());
        note(format!(
            "{m} is left pending: {} obstacle(s){}:\n  {}\n\
             It is optional: every command works without it; see the comment at the top of \
             sql/migrations/{}.",
            obstacles.len(),
            if more > 0 {
                format!(" (first {})", shown.len())
            } else {
                String::new()
            },
            shown.join("\n  "),
            m.file()
        ));
    }
    Ok(Code::Ok)
}

fn print_plan(pending: &[&Migration]) {
    note("Plan:");
    for m in pending {
        let mode = if m.transactional {
            ""
        } else {
            " (outside a transaction)"
        };
        note(format!("  apply {m}{mode}"));
    }
}
