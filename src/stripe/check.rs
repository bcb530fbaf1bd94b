//! `credits stripe check`: the webhook setup as Stripe sees it (an enabled
//! endpoint receiving the success events, as expected), and the success
//! events Stripe could not deliver, each with whether the ledger credited it.

use anyhow::Result;

use crate::cli::{Format, StripeCheckArgs};
use crate::db::Db;
use crate::exit::Code;
use crate::output::{Report, Section, note};

use super::client::Client;
use super::{label, reconcile, webhooks};

/// Reports, and exits 1 when anything is wrong.
pub fn run(client: &Client, db: &mut Db, args: &StripeCheckArgs, format: Format) -> Result<Code> {
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
        let success: Vec<&str> = super::api::SUCCESS_EVENTS
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
