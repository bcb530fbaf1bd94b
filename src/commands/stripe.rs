//! `credits stripe check` and `credits stripe reconcile`: the ledger against
//! Stripe, read-only on both sides (`stripe::check`, `stripe::reconciliation`).

use anyhow::Result;
use chrono::Utc;

use crate::cli::{Format, StripeArgs, StripeCommand};
use crate::db::Db;
use crate::exit::Code;
use crate::stripe::export::Export;
use crate::stripe::reconciliation::Source;
use crate::stripe::{self, check, reconciliation, webhooks};

/// `open` connects to the database once the Stripe side is known to be
/// usable, so that a missing key is said before a connection is tried.
pub fn run(args: &StripeArgs, format: Format, open: impl FnOnce() -> Result<Db>) -> Result<Code> {
    match &args.command {
        StripeCommand::Check(check_args) => {
            let client = stripe::connect(&args.api)?;
            webhooks::check_window(check_args.since.at, Utc::now())?;
            check::run(&client, &mut open()?, check_args, format)
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
            reconciliation::run(source, &mut open()?, reconcile_args, format)
        }
    }
}
