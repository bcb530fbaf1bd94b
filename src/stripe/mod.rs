//! Stripe, read-only: the API client, the objects it reads, what a payment
//! proves (the evidence the repairs can ask Stripe for), the webhook setup,
//! the reconciliation of payments with recharges, and the Dashboard's
//! Payments export as an offline source of the same facts.

pub mod api;
pub mod check;
pub mod client;
pub mod export;
pub mod key;
pub mod reconcile;
pub mod reconciliation;
pub mod verify;
pub mod webhooks;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cli::StripeOpts;
use client::{Client, Settings};
use key::Key;

/// The client the stripe commands use: the key from `--stripe-key-file` or
/// `STRIPE_API_KEY`, the base URL from `STRIPE_API_BASE`.
pub fn connect(opts: &StripeOpts) -> Result<Client> {
    client_for(
        opts.stripe_key_file.as_deref(),
        opts.stripe_timeout,
        opts.stripe_max_rate,
    )
}

fn client_for(key_file: Option<&Path>, timeout: Duration, max_rate: Option<u32>) -> Result<Client> {
    let key = Key::load(key_file)?;
    let settings = Settings {
        base: client::base_url(std::env::var(client::BASE_VARIABLE).ok().as_deref())?,
        timeout,
        max_rate,
    };
    Client::new(key, &settings)
}

/// A monitor's check must answer well within its own timeout.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// For `credits health`: how many success events Stripe could not deliver
/// since `since` (at most the 30 days Stripe keeps), or None when no key is
/// given (`key_file`, or `STRIPE_API_KEY`).
pub fn undelivered_for_health(
    since: DateTime<Utc>,
    key_file: Option<&Path>,
) -> Result<Option<i64>> {
    if key_file.is_some() || std::env::var(key::KEY_VARIABLE).is_ok_and(|k| !k.trim().is_empty()) {
        let client = client_for(key_file, HEALTH_TIMEOUT, None)?;
        let oldest = Utc::now() - chrono::Duration::days(webhooks::EVENT_RETENTION_DAYS);
        let mut count = 0;
        webhooks::undelivered(&client, since.max(oldest), |events| {
            count += events.len() as i64;
            Ok(())
        })?;
        Ok(Some(count))
    } else {
        Ok(None)
    }
}

/// "Stripe (test mode)", in every table's title: which data it is.
pub fn label(source: &str, mode: Option<key::Mode>) -> String {
    match mode {
        Some(mode) => format!("{source} ({} mode)", mode.label()),
        None => format!("{source} (mode not given)"),
    }
}
