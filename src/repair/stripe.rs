//! Evidence from Stripe itself for a repair's plan: with
//! `--verify-with-stripe` each candidate's payment intent is retrieved from
//! the API, with `--stripe-export` it is looked up in a Dashboard Payments
//! export; either way it is judged the same way (`stripe::verify`). A
//! payment Stripe shows as paid becomes an attestation naming its source
//! (the API and the request id, or the file and its SHA-256), which the
//! audit row keeps; a payment it shows otherwise keeps the recharge from
//! being credited, whatever the database says, and is reported with what
//! Stripe said.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Action, Outcome};
use crate::cli::StripeEvidence;
use crate::db::Db;
use crate::output::note;
use crate::sql;
use crate::stripe;
use crate::stripe::client::{Client, StripeError};
use crate::stripe::export::Export;
use crate::stripe::key::Mode;
use crate::stripe::verify::{Verdict, verify_payment};

/// What Stripe said about a plan's candidates.
#[derive(Default)]
pub struct Verdicts {
    /// Payment intent -> the evidence Stripe gave, for the repair's attestations.
    pub paid: Map<String, Value>,
    /// Recharge id -> why Stripe's answer is not evidence of payment.
    pub refused: BTreeMap<String, String>,
    /// The key's mode, when the API was asked.
    pub mode: Option<Mode>,
}

/// Stripe's verdicts on what `plan` would credit, when the operator asked
/// for them (`--verify-with-stripe` or `--stripe-export`); None otherwise.
pub fn judge(evidence: &StripeEvidence, db: &mut Db, plan: &[Outcome]) -> Result<Option<Verdicts>> {
    if evidence.verify_with_stripe {
        let client = stripe::connect(&evidence.api)?;
        note(format!(
            "asking Stripe ({} mode) about every payment intent the repair would credit",
            client.mode().label()
        ));
        Ok(Some(verify(&client, db, plan)?))
    } else if let Some(path) = &evidence.stripe_export {
        Ok(Some(from_export(path, db, plan)?))
    } else {
        Ok(None)
    }
}

impl Verdicts {
    /// As the repair SQL takes them (`fix_users`' p_stripe).
    pub fn json(&self) -> String {
        serde_json::json!({
            "paid": self.paid,
            "refused": self.refused,
        })
        .to_string()
    }

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
    let mut verdicts = Verdicts {
        mode: Some(client.mode()),
        ..Verdicts::default()
    };
    for candidate in candidates(db, plan)? {
        let Candidate {
            recharge,
            payment_intent: pi,
            price,
            currency,
        } = candidate;
        match verify_payment(client, &pi, price, currency.as_deref()) {
            Ok(verified) if verified.verdict.is_paid() => {
                let evidence = format!(
                    "stripe api: {} ({} mode{})",
                    verified.verdict.describe(),
                    client.mode().label(),
                    verified
                        .request_id
                        .map_or(String::new(), |id| format!(", request {id}"))
                );
                verdicts.paid.insert(pi, Value::from(evidence));
            }
            Ok(verified) => {
                verdicts.refused.insert(
                    recharge,
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
                        recharge,
                        format!("Stripe does not know {pi} in this account and mode: not credited"),
                    );
                }
                _ => return Err(error),
            },
        }
    }
    Ok(verdicts)
}

/// What a Dashboard Payments export (`--stripe-export`) says of the
/// candidates of `plan`. A payment intent the export does not hold leaves
/// its recharge as the plan has it (the export may cover other dates); one
/// it shows paid (status Paid, nothing refunded, for the recharge's price
/// and currency) is evidence naming the file and its SHA-256; one it shows
/// otherwise is refused.
pub fn from_export(path: &Path, db: &mut Db, plan: &[Outcome]) -> Result<Verdicts> {
    let wanted: BTreeMap<String, Candidate> = candidates(db, plan)?
        .into_iter()
        .map(|c| (c.payment_intent.clone(), c))
        .collect();
    let mut export = Export::open(path, "", DateTime::<Utc>::UNIX_EPOCH)?;
    let mut paid = BTreeSet::new();
    let mut refused: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let page = export.next_page(1000)?;
        if page.is_empty() {
            break;
        }
        for payment in page {
            let Some(candidate) = wanted.get(&payment.id) else {
                continue;
            };
            match payment.judge(None, candidate.price, candidate.currency.as_deref()) {
                Verdict::Paid => {
                    paid.insert(payment.id.clone());
                }
                verdict => {
                    refused
                        .entry(candidate.recharge.clone())
                        .or_insert_with(|| {
                            format!(
                                "the Stripe export says {}: not credited",
                                verdict.describe()
                            )
                        });
                }
            }
        }
    }
    let file = path.file_name().map_or(path.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    let sha256 = export.sha256()?;
    let mut verdicts = Verdicts::default();
    for pi in paid {
        // A payment paid in one row of the export is evidence, whatever
        // another row of it says (a failed first attempt, say).
        if let Some(candidate) = wanted.get(&pi) {
            refused.remove(&candidate.recharge);
        }
        verdicts.paid.insert(
            pi,
            Value::from(format!(
                "stripe export {file} (sha256 {sha256}): paid, not refunded"
            )),
        );
    }
    verdicts.refused = refused;
    Ok(verdicts)
}

/// A recharge Stripe could speak for, and what Stripe must have collected
/// for it, where the app stores that.
struct Candidate {
    recharge: String,
    payment_intent: String,
    /// In the currency's minor unit.
    price: Option<i64>,
    currency: Option<String>,
}

/// The candidates of `plan`: the recharges the repair could credit that
/// name a payment intent.
fn candidates(db: &mut Db, plan: &[Outcome]) -> Result<Vec<Candidate>> {
    let candidates: Vec<(&String, &String)> = plan
        .iter()
        .filter(|o| {
            matches!(
                o.action,
                Action::Credited | Action::NoEvidence | Action::ForgeableEvidence
            )
        })
        .filter_map(|o| Some((o.recharge_id.as_ref()?, o.payment_intent_id.as_ref()?)))
        .collect();
    let ids: Vec<&str> = candidates.iter().map(|(id, _)| id.as_str()).collect();
    let mut prices: BTreeMap<String, (Option<i64>, Option<String>)> = {
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
    Ok(candidates
        .into_iter()
        .map(|(recharge, pi)| {
            let (price, currency) = prices.remove(recharge).unwrap_or((None, None));
            Candidate {
                recharge: recharge.clone(),
                payment_intent: pi.clone(),
                price,
                currency,
            }
        })
        .collect())
}
