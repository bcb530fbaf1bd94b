//! `credits stripe check` and `credits stripe reconcile`: the ledger against
//! Stripe, read-only on both sides.

use std::io::IsTerminal;

use anyhow::Result;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::cli::{Format, StripeArgs, StripeCheckArgs, StripeCommand, StripeReconcileArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, note};
use crate::scope::dashboard_url;
use crate::stripe::client::Client;
use crate::stripe::export::Export;
use crate::stripe::key::Mode;
use crate::stripe::reconcile::{self, Category, Reconciler};
use crate::stripe::verify::Payment;
use crate::stripe::{self, webhooks};

/// `open` connects to the database once the Stripe side is known to be
/// usable, so that a missing key is said before a connection is tried.
pub fn run(args: &StripeArgs, format: Format, open: impl FnOnce() -> Result<Db>) -> Result<Code> {
    match &args.command {
        StripeCommand::Check(check_args) => {
            let client = stripe::connect(&args.api)?;
            webhooks::check_window(check_args.since.at, Utc::now())?;
            check(&client, &mut open()?, check_args, format)
        }
        StripeCommand::Reconcile(reconcile_args) => {
            let source = match &reconcile_args.stripe_export {
                Some(path) => Source::Export(Export::open(
                    path,
                    &reconcile_args.metadata_key,
                    reconcile_args.since.at,
                )?),
                None => Source::Api(stripe::connect(&args.api)?),
            };
            reconcile(source, &mut open()?, reconcile_args, format)
        }
    }
}

/// "Stripe (test mode)", in every table's title: which data it is.
fn label(source: &str, mode: Option<Mode>) -> String {
    match mode {
        Some(mode) => format!("{source} ({} mode)", mode.label()),
        None => format!("{source} (mode not given)"),
    }
}

fn check(client: &Client, db: &mut Db, args: &StripeCheckArgs, format: Format) -> Result<Code> {
    let stripe = label("Stripe", Some(client.mode()));
    let endpoints = webhooks::endpoints(client)?;
    let problems = webhooks::problems(
        &endpoints,
        args.expect_url.as_deref(),
        args.expect_api_version.as_deref(),
    );

    let mut listed = Section::new(
        "endpoints",
        format!("{stripe}: webhook endpoints"),
        &[
            "endpoint_id",
            "url",
            "status",
            "api_version",
            "success_events",
        ],
    );
    for endpoint in &endpoints {
        let success: Vec<&str> = stripe::api::SUCCESS_EVENTS
            .iter()
            .copied()
            .filter(|kind| endpoint.receives(kind))
            .collect();
        listed.push(vec![
            endpoint.id.clone().into(),
            endpoint.url.clone().into(),
            endpoint.status.clone().into(),
            endpoint.api_version.clone().into(),
            success.join(" ").into(),
        ]);
    }
    let mut found = Section::new(
        "webhook_problems",
        format!("{stripe}: webhook problems"),
        &["problem", "endpoint_id", "detail"],
    );
    for problem in &problems {
        found.push(vec![
            problem.name().into(),
            problem.endpoint().map(str::to_string).into(),
            problem.detail().into(),
        ]);
    }

    let mut undelivered = Section::new(
        "undelivered",
        format!("{stripe}: success events not delivered"),
        &[
            "event_id",
            "type",
            "created",
            "payment_intent_id",
            "recharge_id",
            "credited",
            "resend",
        ],
    );
    webhooks::undelivered(client, args.since.at, |events| {
        let keys: Vec<(&str, Option<&str>)> = events
            .iter()
            .map(|e| (e.payment_intent().unwrap_or(""), None))
            .collect();
        let mut tx = db.read_only()?;
        let recharges = reconcile::match_payments(&mut tx, &keys)?;
        tx.commit()?;
        for (event, recharge) in events.iter().zip(recharges) {
            let created = chrono::DateTime::from_timestamp(event.created, 0)
                .map(|at| crate::output::time(&at));
            undelivered.push(vec![
                event.id.clone().into(),
                event.kind.clone().into(),
                created.into(),
                event.payment_intent().map(str::to_string).into(),
                recharge.as_ref().map(|r| r.id.clone()).into(),
                recharge.as_ref().map(|r| r.credited()).into(),
                webhooks::resend_commands(event, &endpoints)
                    .join("; ")
                    .into(),
            ]);
        }
        Ok(())
    })?;

    let undelivered_count = undelivered.rows.len();
    let mut report = Report::new("stripe check");
    report.field("mode", client.mode().label());
    report.field("since", crate::output::time(&args.since.at));
    report.field("problems", problems.len());
    report.field("undelivered_events", undelivered_count);
    report.sections.extend([listed, found, undelivered]);
    report.csv_section = "undelivered";
    report.print(format)?;
    if problems.is_empty() && undelivered_count == 0 {
        note(format!(
            "{stripe}: an enabled endpoint receives the success events, and every one was delivered"
        ));
        Ok(Code::Ok)
    } else {
        note(format!(
            "{stripe}: {} webhook problem(s), {} success event(s) not delivered",
            problems.len(),
            undelivered_count
        ));
        Ok(Code::ProblemsFound)
    }
}

/// Where the payments come from.
enum Source {
    Api(Client),
    Export(Export),
}

/// Payments per page: Stripe's largest list page, and as many export rows.
const PAGE: usize = 100;

fn reconcile(
    source: Source,
    db: &mut Db,
    args: &StripeReconcileArgs,
    format: Format,
) -> Result<Code> {
    let key_mode = match &source {
        Source::Api(client) => Some(client.mode()),
        Source::Export(_) => None,
    };
    let mut reconciler = Reconciler::new(key_mode, &args.metadata_key);
    let progress = progress_bar();
    // A page is matched in one read; with the API, the paid payments that
    // match nothing first get the recharge their Checkout Session names.
    let mut process = |payments: &mut [Payment], client: Option<&Client>| -> Result<()> {
        let mut tx = db.read_only()?;
        if let Some(client) = client {
            reconcile::refs_from_checkout(client, &mut tx, payments, &args.metadata_key)?;
        }
        reconciler.page(&mut tx, payments)?;
        tx.commit()?;
        progress.set_message(format!(
            "{} payments read, {} disagreements",
            reconciler.payments,
            reconciler.findings.len()
        ));
        Ok(())
    };
    let mut export_sha256 = None;
    match source {
        Source::Api(client) => {
            reconcile::each_page(
                &client,
                args.since.at,
                &args.metadata_key,
                |mut payments| process(&mut payments, Some(&client)),
            )?;
        }
        Source::Export(mut export) => {
            if !export.has_metadata() {
                note(format!(
                    "the export has no \"{} (metadata)\" column: payments are matched by payment intent only",
                    args.metadata_key
                ));
            }
            loop {
                let mut page = export.next_page(PAGE)?;
                if page.is_empty() {
                    break;
                }
                process(&mut page, None)?;
            }
            export_sha256 = Some(export.sha256()?);
        }
    }
    progress.finish_and_clear();
    let mut tx = db.read_only()?;
    reconciler.finish(&mut tx, args.since.at)?;
    tx.commit()?;
    // The key's mode; for an export, the one its Mode column gives all rows.
    let mode = key_mode.or_else(|| match reconciler.modes.iter().collect::<Vec<_>>()[..] {
        [only] => Some(*only),
        _ => None,
    });
    let stripe = label(
        if key_mode.is_some() {
            "Stripe"
        } else {
            "Stripe export"
        },
        mode,
    );

    let mut summary = Section::new(
        "summary",
        format!("{stripe} against the ledger"),
        &["category", "count", "credits", "what_to_do"],
    );
    for category in Category::ALL {
        let of: Vec<_> = reconciler
            .findings
            .iter()
            .filter(|f| f.category == category)
            .collect();
        summary.push(vec![
            category.name().into(),
            of.len().into(),
            of.iter().filter_map(|f| f.credits).sum::<i64>().into(),
            if of.is_empty() {
                Value::Null
            } else {
                category.what_to_do().into()
            },
        ]);
    }
    // Grouped as the summary lists the categories, in Stripe's order within each.
    reconciler
        .findings
        .sort_by_key(|f| Category::ALL.iter().position(|c| *c == f.category));
    let mut findings = Section::new(
        "findings",
        format!("{stripe}: disagreements"),
        &[
            "category",
            "payment_intent_id",
            "recharge_id",
            "user_id",
            "credits",
            "detail",
            "dashboard_url",
        ],
    );
    for finding in &reconciler.findings {
        findings.push(vec![
            finding.category.name().into(),
            finding.payment_intent_id.clone().into(),
            finding.recharge_id.clone().into(),
            finding.user_id.clone().into(),
            finding.credits.into(),
            finding.detail.clone().into(),
            finding
                .payment_intent_id
                .as_deref()
                .map(dashboard_url)
                .into(),
        ]);
    }

    let disagreements = reconciler.findings.len();
    let mut report = Report::new("stripe reconcile");
    report.field("mode", mode.map(Mode::label));
    report.field(
        "source",
        if export_sha256.is_some() {
            "export"
        } else {
            "api"
        },
    );
    report.field("export_sha256", export_sha256);
    report.field("since", crate::output::time(&args.since.at));
    report.field("metadata_key", args.metadata_key.clone());
    report.field("payments", reconciler.payments);
    report.field("disagreements", disagreements);
    report.sections.extend([summary, findings]);
    report.csv_section = "findings";
    report.print(format)?;
    if disagreements == 0 {
        note(format!(
            "{stripe}: all {} payment(s) agree with the ledger",
            reconciler.payments
        ));
        Ok(Code::Ok)
    } else {
        note(format!(
            "{stripe}: {disagreements} disagreement(s) in {} payment(s)",
            reconciler.payments
        ));
        Ok(Code::ProblemsFound)
    }
}

/// A spinner on stderr when it is a terminal; nothing in a pipe or a log.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
