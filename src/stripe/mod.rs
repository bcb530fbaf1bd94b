//! Stripe, read-only: the API client, the objects it reads, what a payment
//! proves (the evidence the repairs can ask Stripe for), the webhook setup,
//! the reconciliation of payments with recharges, and the Dashboard's
//! Payments export as an offline source of the same facts.

pub mod api;
pub mod client;
pub mod export;
pub mod key;
pub mod reconcile;
pub mod verify;
pub mod webhooks;

use anyhow::Result;

use crate::cli::StripeOpts;
use client::{Client, Settings};
use key::Key;

/// The client the stripe commands use: the key from `--stripe-key-file` or
/// `STRIPE_API_KEY`, the base URL from `STRIPE_API_BASE`.
pub fn connect(opts: &StripeOpts) -> Result<Client> {
    let key = Key::load(opts.stripe_key_file.as_deref())?;
    let settings = Settings {
        base: client::base_url(std::env::var(client::BASE_VARIABLE).ok().as_deref())?,
        timeout: opts.stripe_timeout,
        max_rate: opts.stripe_max_rate,
    };
    Client::new(key, &settings)
}
