//! `credits stripe reconcile`: every payment since --since against its
//! recharge, from the API or a Dashboard export, matched a page at a time
//! (`reconcile::Reconciler`) and written as found (JSON, CSV), with a
//! spinner on a terminal.

use std::io::IsTerminal;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::cli::{Format, StripeReconcileArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, Streamed, note};
use crate::scope::dashboard_url;

use super::client::Client;
use super::export::Export;
use super::key::Mode;
use super::label;
use super::reconcile::{self, Category, Finding, Reconciler};
use super::verify::Payment;

/// Where the payments come from.
pub enum Source {
    Api(Client),
    Export(Export),
}

/// Payments per page: Stripe's largest list page, and as many export rows.
const PAGE: usize = 100;

/// Reconciles, page by page (only ids are kept between pages), and exits 1
/// when anything disagrees. Scripts get each disagreement written as it is
/// found, in Stripe's order; people get them grouped by category.
pub fn run(
    source: Source,
    db: &mut Db,
    args: &StripeReconcileArgs,
    format: Format,
) -> Result<Code> {
    let key_mode = match &source {
        Source::Api(client) => Some(client.mode()),
        Source::Export(_) => None,
    };
    let mut report = Report::new("stripe reconcile");
    report.field("source", if key_mode.is_some() { "api" } else { "export" });
    report.field("since", crate::output::time(&args.since.at));
    report.field("metadata_key", args.metadata_key.clone());
    let mut findings = Findings {
        stream: (format != Format::Table)
            .then(|| Streamed::start(format, &report, "findings", FINDING_COLUMNS)),
        ..Findings::default()
    };
    // A document already begun is ended with the error, so it stays JSON.
    let (reconciler, export_sha256) = match read_all(source, db, args, key_mode, &mut findings) {
        Ok(read) => read,
        Err(error) => {
            if let Some(stream) = findings.stream.take() {
                stream.abort(&error);
            }
            return Err(error);
        }
    };
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
    for (category, (count, credits)) in Category::ALL.into_iter().zip(findings.tally) {
        summary.push(vec![
            category.name().into(),
            count.into(),
            credits.into(),
            if count == 0 {
                Value::Null
            } else {
                category.what_to_do().into()
            },
        ]);
    }
    let disagreements = findings.total();
    report.field("mode", mode.map(Mode::label));
    report.field("export_sha256", export_sha256);
    report.field("payments", reconciler.payments);
    report.field("disagreements", disagreements);
    report.sections.push(summary);
    match findings.stream {
        Some(stream) => stream.finish(&report)?,
        None => {
            // Grouped as the summary lists the categories, in Stripe's order within each.
            findings
                .kept
                .sort_by_key(|f| Category::ALL.iter().position(|c| *c == f.category));
            let mut section = Section::new(
                "findings",
                format!("{stripe}: disagreements"),
                FINDING_COLUMNS,
            );
            for finding in &findings.kept {
                section.push(row(finding));
            }
            report.sections.push(section);
            report.print(format)?;
        }
    }
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

/// Every payment of `source`, matched page by page, then the credits no
/// payment named; each disagreement goes to `findings` as it is found.
fn read_all(
    source: Source,
    db: &mut Db,
    args: &StripeReconcileArgs,
    key_mode: Option<Mode>,
    findings: &mut Findings,
) -> Result<(Reconciler, Option<String>)> {
    let mut reconciler = Reconciler::new(key_mode, &args.metadata_key);
    let progress = progress_bar();
    // A page is matched in one read; with the API, the paid payments that
    // match nothing first get the recharge their Checkout Session names.
    let mut process = |payments: &mut [Payment], client: Option<&Client>| -> Result<()> {
        let mut tx = db.read_only()?;
        if let Some(client) = client {
            reconcile::refs_from_checkout(client, &mut tx, payments, &args.metadata_key)?;
        }
        reconciler.page(&mut tx, payments, &mut |f| findings.add(f))?;
        tx.commit()?;
        progress.set_message(format!(
            "{} payments read, {} disagreements",
            reconciler.payments,
            findings.total()
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
    reconciler.finish(&mut tx, args.since.at, &mut |f| findings.add(f))?;
    tx.commit()?;
    Ok((reconciler, export_sha256))
}

const FINDING_COLUMNS: &[&str] = &[
    "category",
    "payment_intent_id",
    "recharge_id",
    "user_id",
    "credits",
    "detail",
    "dashboard_url",
];

fn row(finding: &Finding) -> Vec<Value> {
    vec![
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
    ]
}

/// The disagreements found so far: counted per category (in
/// `Category::ALL`'s order) and either written at once (JSON, CSV) or kept
/// for the table.
#[derive(Default)]
struct Findings {
    tally: [(u64, i64); Category::ALL.len()],
    stream: Option<Streamed>,
    kept: Vec<Finding>,
}

impl Findings {
    fn add(&mut self, finding: Finding) {
        if let Some(i) = Category::ALL.iter().position(|c| *c == finding.category) {
            self.tally[i].0 += 1;
            self.tally[i].1 += finding.credits.unwrap_or(0);
        }
        match &mut self.stream {
            Some(stream) => stream.push(&row(&finding)),
            None => self.kept.push(finding),
        }
    }

    fn total(&self) -> u64 {
        self.tally.iter().map(|(count, _)| count).sum()
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
