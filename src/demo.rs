//! What `credits demo` does: a throwaway PostgreSQL with an incident, and
//! a walk through the commands that diagnose and repair it, each run as the
//! real binary, as an on-call engineer would.

use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::cli::DemoArgs;
use crate::cluster::LocalCluster;
use crate::output::note;
use crate::reference::{self, Shape};

/// `println!` that a closed stdout (`| head`) does not turn into a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        crate::output::say(format!($($arg)*))
    };
}

/// The walk-through: each step runs the real binary, as an on-call engineer would.
const STEPS: &[(&str, &[&str])] = &[
    (
        "Which of the tool's migrations does this database have?",
        &["status"],
    ),
    (
        "What would installing change? (writes nothing)",
        &["install", "--dry-run"],
    ),
    (
        "Install the tool's schema and indexes.",
        &["install", "--yes", "--reason", "demo"],
    ),
    (
        "Installing twice changes nothing the second time.",
        &["install", "--yes", "--reason", "demo"],
    ),
    ("Everything is applied now.", &["status"]),
    (
        "Diagnose: every check, with the command that fixes each finding (exit code 1: problems found).",
        &["debug", "--limit", "3"],
    ),
    (
        "The same, for one user who paid and got nothing, looked up by email.",
        &["debug", "--user", "{user}"],
    ),
    (
        "Repair that user: credit what they paid for, then set the balance to the ledger sum.",
        &["fix-user", "{user}", "--yes", "--reason", "demo"],
    ),
    (
        "Diagnose them again: what they paid for has arrived, exactly once.",
        &["debug", "--user", "{user}"],
    ),
    (
        "Their support page, to paste into the ticket.",
        &["support", "{user}"],
    ),
    (
        "Repair everyone in the window, in short batches (what is locked is skipped, not waited on).",
        &["bulk-fix", "--yes", "--reason", "demo"],
    ),
    (
        "Credit failed and stuck payments that Stripe shows as paid; the unproven ones are only listed.",
        &[
            "retry-failed",
            "--include-pending",
            "--yes",
            "--reason",
            "demo",
        ],
    ),
    (
        "Diagnose again: what is left needs a human (unverified payments, duplicates, wrong amounts, RLS).",
        &["debug", "--limit", "2"],
    ),
    (
        "What monitoring sees: a Nagios line, exit code 2 (CRITICAL).",
        &["health"],
    ),
    (
        "Stop sales while the incident is handled (recorded, so resuming is exact).",
        &["pause-packages", "--yes", "--reason", "demo"],
    ),
    (
        "Sales are paused; the retired package stays retired when they resume.",
        &["resume-packages", "--yes", "--reason", "demo"],
    ),
];

/// The walk-through, told on stdout (as one JSON document with `json`).
pub fn walk(args: &DemoArgs, json: bool) -> Result<()> {
    note("Starting a throwaway PostgreSQL cluster...");
    let cluster = LocalCluster::start(args.keep)?;
    let mut admin = postgres::Client::connect(&cluster.conninfo("postgres"), postgres::NoTls)?;
    admin.batch_execute(crate::sql::REFERENCE_CREATE_DEMO_DATABASE)?;
    let conninfo = cluster.conninfo("credits_demo");
    let mut client = postgres::Client::connect(&conninfo, postgres::NoTls)?;
    let planted = if args.shape == Shape::Reference {
        reference::create_schema(&mut client)?;
        let users = (args.recharges / 10).max(1) as i32;
        reference::generate_incident(&mut client, args.recharges as i32, users, 42)?
    } else {
        reference::load_shape(&mut client, args.shape)?
    };
    // The shape's mapping file, beside the cluster's files (removed with them).
    let mapping = match args.shape.mapping() {
        Some(text) => {
            let path = cluster.dir().join("credits.toml");
            std::fs::write(&path, text).context("writing the shape's mapping file")?;
            Some(path)
        }
        None => None,
    };
    if !json {
        say!(
            "An incident was generated: users paid through Stripe and some never got their credits."
        );
        say!(
            "What it planted, per recharge and per user (debug must find exactly this; it also \
             reports database-wide findings, such as RLS_DISABLED and failed webhook events):"
        );
        for (kind, count) in &planted {
            say!("  {kind:<24} {count}");
        }
    }
    // Kept: an untouched copy to practise on, before the walk-through repairs.
    let (mut client, practice) = if args.keep {
        drop(client); // a template must have no connection while it is copied
        admin
            .batch_execute(crate::sql::REFERENCE_CREATE_PRACTICE_DATABASE)
            .context("copying the incident for practice")?;
        (
            postgres::Client::connect(&conninfo, postgres::NoTls)?,
            Some(cluster.conninfo("credits_practice")),
        )
    } else {
        (client, None)
    };

    let user = reference::sample_user(&mut client, args.shape, "MISSING_TRANSACTION")?;
    let exe = std::env::current_exe().context("finding the credits binary")?;
    let mut steps = Vec::new();
    for (why, step) in STEPS {
        let step: Vec<&str> = step
            .iter()
            .map(|arg| if *arg == "{user}" { user.as_str() } else { arg })
            .collect();
        let line = format!("credits {}", step.join(" "));
        let mut command = Command::new(&exe);
        command.args(&step).env("DATABASE_URL", &conninfo);
        if let Some(path) = &mapping {
            command.env("CREDITS_CONFIG", path);
        }
        if json {
            let output = command
                .args(["--output", "json"])
                .stderr(Stdio::inherit())
                .output()
                .with_context(|| format!("running {line}"))?;
            let result: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            steps.push(json!({"why": why, "command": line, "exit_code": output.status.code(), "output": result}));
        } else {
            say!("\n# {why}\n$ {line}");
            let status = command
                .status()
                .with_context(|| format!("running {line}"))?;
            say!(
                "(exit code {})",
                status.code().map_or("none".into(), |c| c.to_string())
            );
        }
    }

    let kept = practice.map(|practice| {
        json!({
            "database_url": practice,
            "walked_through_database_url": conninfo,
            "config": mapping.as_ref().map(|path| path.display().to_string()),
            "stop_command": cluster.stop_command(),
        })
    });
    if json {
        let planted: Vec<Value> = planted
            .iter()
            .map(|(kind, n)| json!({"kind": kind, "count": n}))
            .collect();
        let document = json!({"command": "demo", "planted": planted, "steps": steps, "kept": kept});
        say!("{}", serde_json::to_string_pretty(&document)?);
    } else if let Some(kept) = &kept {
        say!(
            "\nThe demo server is still running, with an unrepaired copy of the incident to \
             practise the runbook on. Paste these lines into your shell:"
        );
        say!(
            "  export DATABASE_URL='{}'",
            kept["database_url"].as_str().unwrap_or_default()
        );
        if let Some(config) = kept["config"].as_str() {
            say!("  export CREDITS_CONFIG='{config}'");
        }
        say!("  credits install --dry-run");
        say!(
            "Stop it and remove its files with:\n  {}",
            kept["stop_command"].as_str().unwrap_or_default()
        );
    } else {
        say!("\nDone; the demo database is being removed.");
    }
    if args.keep {
        cluster.keep();
    }
    Ok(())
}
