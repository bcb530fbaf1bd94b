//! Evidence from Stripe itself for a repair's plan (`--verify-with-stripe`):
//! each candidate's payment intent is retrieved and judged
//! (`stripe::verify`). A payment Stripe shows as paid becomes an
//! attestation naming the API and the request id, which the audit row
//! keeps; anything else keeps the recharge from being credited, whatever
//! the database says, and is reported with what Stripe said.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Map, Value};

use super::{Action, Outcome};
use crate::db::Db;
use crate::sql;
use crate::stripe::client::{Client, StripeError};
use crate::stripe::verify::verify_payment;

/// What Stripe said about a plan's candidates.
#[derive(Default)]
pub struct Verdicts {
    /// Payment intent -> the evidence Stripe gave, for the repair's attestations.
    pub paid: Map<String, Value>,
    /// Recharge id -> why Stripe's answer is not evidence of payment.
    pub refused: BTreeMap<String, String>,
}

impl Verdicts {
    /// The plan with Stripe's refusals in it: those recharges are reported
    /// as not paid in Stripe and never credited.
    pub fn apply(&self, plan: Vec<Outcome>) -> Vec<Outcome> {
        plan.into_iter()
            .map(|mut o| {
                if let Some(why) = o.recharge_id.as_ref().and_then(|id| self.refused.get(id)) {
                    o.action = Action::NotPaidInStripe;
                    o.detail = why.clone();
                }
                o
            })
            .collect()
    }
}

/// Asks Stripe about every candidate of `plan` the repair could credit. A
/// payment intent Stripe does not know (404) is refused like an unpaid one;
/// any other failure (the key, a permission, the network) stops the run
/// before anything is written.
pub fn verify(client: &Client, db: &mut Db, plan: &[Outcome]) -> Result<Verdicts> {
    let candidates: Vec<&Outcome> = plan
        .iter()
        .filter(|o| {
            matches!(
                o.action,
                Action::Credited | Action::NoEvidence | Action::ForgeableEvidence
            ) && o.payment_intent_id.is_some()
        })
        .collect();
    let ids: Vec<&str> = candidates
        .iter()
        .filter_map(|o| o.recharge_id.as_deref())
        .collect();
    let prices: BTreeMap<String, (Option<i64>, Option<String>)> = {
        let mut tx = db.read_only()?;
        let rows = tx.query(sql::REPAIR_RECHARGE_PRICES, &[&ids])?;
        tx.commit()?;
        rows.iter()
            .map(|row| {
                (
                    row.get("recharge_id"),
                    (row.get("price"), row.get("currency")),
                )
            })
            .collect()
    };
    let mut verdicts = Verdicts::default();
    for o in candidates {
        let (Some(recharge), Some(pi)) = (&o.recharge_id, &o.payment_intent_id) else {
            continue;
        };
        let (price, currency) = prices.get(recharge).cloned().unwrap_or((None, None));
        match verify_payment(client, pi, price, currency.as_deref()) {
            Ok(verified) if verified.verdict.is_paid() => {
                let evidence = format!(
                    "stripe api: {} ({} mode{})",
                    verified.verdict.describe(),
                    client.mode().label(),
                    verified
                        .request_id
                        .map_or(String::new(), |id| format!(", request {id}"))
                );
                verdicts.paid.insert(pi.clone(), Value::from(evidence));
            }
            Ok(verified) => {
                verdicts.refused.insert(
                    recharge.clone(),
                    format!(
                        "Stripe says {}: not credited{}",
                        verified.verdict.describe(),
                        verified
                            .request_id
                            .map_or(String::new(), |id| format!(" (request {id})"))
                    ),
                );
            }
            Err(error) => match error.chain().find_map(|e| e.downcast_ref::<StripeError>()) {
                Some(StripeError::Api { status: 404, .. }) => {
                    verdicts.refused.insert(
                        recharge.clone(),
                        format!("Stripe does not know {pi} in this account and mode: not credited"),
                    );
                }
                _ => return Err(error),
            },
        }
    }
    Ok(verdicts)
}
