//! Stripe's payments against the ledger's recharges, a page at a time: each
//! page is matched with one query and its disagreements handed on as they
//! are found, so neither payments nor findings are ever all held at once
//! (only ids, to find at the end the credits Stripe never collected).

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use postgres::Transaction;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use crate::sql;
use crate::stripe::api::{CheckoutSession, PaymentIntent};
use crate::stripe::client::Client;
use crate::stripe::key::Mode;
use crate::stripe::verify::{Payment, Verdict};

/// Every payment intent created since `since`, newest first, a page of at
/// most 100 at a time, with its latest charge (refunds, disputes).
pub fn each_page(
    client: &Client,
    since: DateTime<Utc>,
    metadata_key: &str,
    mut page: impl FnMut(Vec<Payment>) -> Result<()>,
) -> Result<()> {
    let created = since.timestamp().to_string();
    let query = [
        ("created[gte]", created.as_str()),
        ("expand[]", "data.latest_charge"),
    ];
    client
        .each_page(
            "/v1/payment_intents",
            &query,
            |intents: Vec<PaymentIntent>, _| {
                page(
                    intents
                        .iter()
                        .map(|intent| Payment::from_intent(intent, metadata_key))
                        .collect(),
                )
            },
        )
        .context("listing payment intents")
}

/// For the paid payments of a page that match no recharge and name none in
/// their metadata: the recharge their Checkout Session names (its metadata
/// under `metadata_key`, or its `client_reference_id`). One request per
/// such payment, so only those are asked about.
pub fn refs_from_checkout(
    client: &Client,
    tx: &mut Transaction<'_>,
    payments: &mut [Payment],
    metadata_key: &str,
) -> Result<()> {
    let keys: Vec<(&str, Option<&str>)> = payments
        .iter()
        .map(|p| (p.id.as_str(), p.recharge_ref.as_deref()))
        .collect();
    let matched = match_payments(tx, &keys)?;
    for (payment, recharge) in payments.iter_mut().zip(matched) {
        if recharge.is_some()
            || payment.recharge_ref.is_some()
            || !payment.judge(None, None, None).is_paid()
        {
            continue;
        }
        let mut named = None;
        client
            .each_page(
                "/v1/checkout/sessions",
                &[("payment_intent", payment.id.as_str())],
                |sessions: Vec<CheckoutSession>, _| {
                    named = named
                        .take()
                        .or_else(|| sessions.iter().find_map(|s| s.recharge_ref(metadata_key)));
                    Ok(())
                },
            )
            .with_context(|| format!("finding the Checkout Session of {}", payment.id))?;
        payment.recharge_ref = named;
    }
    Ok(())
}

/// How a payment and the ledger disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Stripe collected the money; the recharge has no credit.
    PaidNotCredited,
    /// The recharge was credited; Stripe has no succeeded payment for it.
    CreditedNotPaid,
    /// The payment was refunded or disputed; its credits are still there.
    RefundedStillCredited,
    /// Stripe collected another amount or currency than the recharge's price.
    AmountMismatch,
    /// A succeeded payment no recharge names.
    PaymentWithoutRecharge,
    /// A second succeeded payment for a recharge already paid.
    TwoPaymentsOneRecharge,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::PaidNotCredited,
        Category::CreditedNotPaid,
        Category::RefundedStillCredited,
        Category::AmountMismatch,
        Category::PaymentWithoutRecharge,
        Category::TwoPaymentsOneRecharge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::PaidNotCredited => "PAID_NOT_CREDITED",
            Category::CreditedNotPaid => "CREDITED_NOT_PAID",
            Category::RefundedStillCredited => "REFUNDED_STILL_CREDITED",
            Category::AmountMismatch => "AMOUNT_MISMATCH",
            Category::PaymentWithoutRecharge => "PAYMENT_WITHOUT_RECHARGE",
            Category::TwoPaymentsOneRecharge => "TWO_PAYMENTS_ONE_RECHARGE",
        }
    }

    /// What the operator does about it.
    pub fn what_to_do(self) -> &'static str {
        match self {
            Category::PaidNotCredited => {
                "credit it: credits retry-failed --include-pending --paid <payment intent> (or credits fix-user <user> for a completed recharge)"
            }
            Category::CreditedNotPaid => {
                "check the payment in the Dashboard (the other mode? another account?); debit by hand if unpaid"
            }
            Category::RefundedStillCredited => {
                "debit the credits with a refund transaction, as the refund policy says"
            }
            Category::AmountMismatch => {
                "compare the price with the package; credit or refund the difference by hand"
            }
            Category::PaymentWithoutRecharge => {
                "find the user (metadata userId, customer email) and create the recharge, or refund"
            }
            Category::TwoPaymentsOneRecharge => {
                "refund the extra payment in the Dashboard, or grant its credits by hand"
            }
        }
    }
}

/// One disagreement.
#[derive(Debug, Clone)]
pub struct Finding {
    pub category: Category,
    pub payment_intent_id: Option<String>,
    pub recharge_id: Option<String>,
    pub user_id: Option<String>,
    pub credits: Option<i64>,
    pub detail: String,
}

/// The recharge a payment matched (`sql/stripe/match_payments.sql`).
#[derive(Debug, Clone)]
pub struct Recharge {
    pub id: String,
    pub user_id: String,
    pub credits: i64,
    /// In the tool's terms (`completed`, `failed`, ...).
    pub status: String,
    /// Minor units, where the app stores a price.
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub payment_intent_id: Option<String>,
    /// Found through the payment's metadata, not its payment intent id.
    pub by_metadata: bool,
    pub recharge_transactions: i64,
    pub net_credits: i64,
}

impl Recharge {
    pub fn credited(&self) -> bool {
        self.recharge_transactions > 0
    }
}

/// The recharge of each payment, given as its payment intent id and the
/// recharge id its metadata names (None where no recharge matches), in order.
pub fn match_payments(
    tx: &mut Transaction<'_>,
    payments: &[(&str, Option<&str>)],
) -> Result<Vec<Option<Recharge>>> {
    let ids: Vec<&str> = payments.iter().map(|(id, _)| *id).collect();
    let refs: Vec<&str> = payments.iter().map(|(_, r)| r.unwrap_or("")).collect();
    let rows = tx
        .query(sql::STRIPE_MATCH_PAYMENTS, &[&ids, &refs])
        .context("matching Stripe's payments to recharges")?;
    Ok(rows
        .iter()
        .map(|row| {
            row.get::<_, Option<String>>("recharge_id")
                .map(|id| Recharge {
                    id,
                    user_id: row.get("user_id"),
                    credits: row.get("credits"),
                    status: row.get("status"),
                    price: row.get("price"),
                    currency: row.get("currency"),
                    payment_intent_id: row.get("payment_intent_id"),
                    by_metadata: row.get("by_metadata"),
                    recharge_transactions: row.get("recharge_transactions"),
                    net_credits: row.get("net_credits"),
                })
        })
        .collect())
}

/// What one payment says about its recharge, leaving aside other payments
/// of the same recharge (the [`Reconciler`] sees those).
pub fn classify(
    payment: &Payment,
    recharge: Option<&Recharge>,
    key_mode: Option<Mode>,
    metadata_key: &str,
) -> Option<Finding> {
    let finding = |category, detail: String| {
        Some(Finding {
            category,
            payment_intent_id: Some(payment.id.clone()),
            recharge_id: recharge.map(|r| r.id.clone()),
            user_id: recharge.map(|r| r.user_id.clone()),
            credits: recharge.map(|r| r.credits),
            detail,
        })
    };
    let Some(recharge) = recharge else {
        if !payment.judge(key_mode, None, None).is_paid() {
            return None;
        }
        return finding(
            Category::PaymentWithoutRecharge,
            format!(
                "{} {} collected; no recharge has this payment intent{}",
                payment.amount_received,
                payment.currency,
                match &payment.recharge_ref {
                    Some(id) => format!(", nor the id {id:?} its metadata {metadata_key} names"),
                    None => format!(", and its metadata has no {metadata_key}"),
                }
            ),
        );
    };
    let verdict = payment.judge(key_mode, recharge.price, recharge.currency.as_deref());
    let matched = if recharge.by_metadata {
        format!(" (matched by metadata {metadata_key})")
    } else {
        String::new()
    };
    match verdict {
        Verdict::Paid if !recharge.credited() => finding(
            Category::PaidNotCredited,
            format!(
                "paid; the recharge ({}) has no recharge transaction{matched}",
                recharge.status
            ),
        ),
        Verdict::Paid => None,
        Verdict::NotSucceeded { .. } | Verdict::OtherMode { .. } if recharge.credited() => finding(
            Category::CreditedNotPaid,
            format!("credited, but Stripe says {}{matched}", verdict.describe()),
        ),
        Verdict::NotSucceeded { .. } | Verdict::OtherMode { .. } => None,
        Verdict::Refunded { .. } | Verdict::Disputed if recharge.net_credits > 0 => finding(
            Category::RefundedStillCredited,
            format!(
                "{}; its transactions still grant {} credits{matched}",
                verdict.describe(),
                recharge.net_credits
            ),
        ),
        Verdict::Refunded { .. } | Verdict::Disputed => None,
        Verdict::AmountDiffers { .. } | Verdict::CurrencyDiffers { .. } => finding(
            Category::AmountMismatch,
            format!(
                "{}; {}{matched}",
                verdict.describe(),
                if recharge.credited() {
                    "credited"
                } else {
                    "not credited"
                }
            ),
        ),
    }
}

/// Reconciles pages of payments as they come, then what no payment named;
/// each disagreement goes to the `found` callback of the call that finds it.
pub struct Reconciler {
    key_mode: Option<Mode>,
    metadata_key: String,
    /// Every payment intent seen, and every recharge a payment matched.
    seen: HashSet<String>,
    matched: HashSet<String>,
    /// The paid payment first found for each recharge.
    paid_by: HashMap<String, String>,
    pub payments: u64,
    /// The modes of the payments read (an export may say).
    pub modes: HashSet<Mode>,
}

impl Reconciler {
    pub fn new(key_mode: Option<Mode>, metadata_key: &str) -> Reconciler {
        Reconciler {
            key_mode,
            metadata_key: metadata_key.to_string(),
            seen: HashSet::new(),
            matched: HashSet::new(),
            paid_by: HashMap::new(),
            payments: 0,
            modes: HashSet::new(),
        }
    }

    /// One page of payments, matched in one query.
    pub fn page(
        &mut self,
        tx: &mut Transaction<'_>,
        payments: &[Payment],
        found: &mut impl FnMut(Finding),
    ) -> Result<()> {
        let keys: Vec<(&str, Option<&str>)> = payments
            .iter()
            .map(|p| (p.id.as_str(), p.recharge_ref.as_deref()))
            .collect();
        let recharges = match_payments(tx, &keys)?;
        for (payment, recharge) in payments.iter().zip(&recharges) {
            self.payments += 1;
            self.modes.extend(payment.mode);
            self.seen.insert(payment.id.clone());
            if let Some(recharge) = recharge {
                self.matched.insert(recharge.id.clone());
                if payment.judge(self.key_mode, None, None).is_paid()
                    && let Some(first) = self
                        .paid_by
                        .insert(recharge.id.clone(), payment.id.clone())
                        .filter(|first| *first != payment.id)
                {
                    found(Finding {
                        category: Category::TwoPaymentsOneRecharge,
                        payment_intent_id: Some(payment.id.clone()),
                        recharge_id: Some(recharge.id.clone()),
                        user_id: Some(recharge.user_id.clone()),
                        credits: Some(recharge.credits),
                        detail: format!(
                            "{first} also paid for this recharge ({}); credited {} time(s)",
                            if recharge.by_metadata {
                                format!("matched by metadata {}", self.metadata_key)
                            } else {
                                "its payment intent".to_string()
                            },
                            recharge.recharge_transactions
                        ),
                    });
                    continue;
                }
            }
            if let Some(finding) = classify(
                payment,
                recharge.as_ref(),
                self.key_mode,
                &self.metadata_key,
            ) {
                found(finding);
            }
        }
        Ok(())
    }

    /// After the last page: the recharges credited since `since` for a
    /// payment intent that Stripe did not list, handed on as they are read.
    pub fn finish(
        &mut self,
        tx: &mut Transaction<'_>,
        since: DateTime<Utc>,
        found: &mut impl FnMut(Finding),
    ) -> Result<()> {
        let seen: Vec<&str> = self.seen.iter().map(String::as_str).collect();
        let matched: Vec<&str> = self.matched.iter().map(String::as_str).collect();
        let params: [&(dyn ToSql + Sync); 3] = [&since, &seen, &matched];
        let mut rows = tx
            .query_raw(sql::STRIPE_CREDITED_UNSEEN, params)
            .context("finding credited recharges without a payment")?;
        while let Some(row) = rows
            .next()
            .context("reading credited recharges without a payment")?
        {
            let payment_intent: String = row.get("payment_intent_id");
            found(Finding {
                category: Category::CreditedNotPaid,
                detail: format!(
                    "credited, but Stripe lists no payment intent {payment_intent} created since {}",
                    crate::output::time(&since)
                ),
                payment_intent_id: Some(payment_intent),
                recharge_id: Some(row.get("recharge_id")),
                user_id: Some(row.get("user_id")),
                credits: Some(row.get("credits")),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(status: &str, received: i64, refunded: i64) -> Payment {
        Payment {
            id: "pi_1".into(),
            status: status.into(),
            amount_received: received,
            currency: "usd".into(),
            amount_refunded: refunded,
            refunded: false,
            disputed: false,
            mode: Some(Mode::Test),
            recharge_ref: None,
        }
    }

    fn recharge(recharge_transactions: i64, net_credits: i64) -> Recharge {
        Recharge {
            id: "r1".into(),
            user_id: "u1".into(),
            credits: 100,
            status: "completed".into(),
            price: Some(999),
            currency: Some("usd".into()),
            payment_intent_id: Some("pi_1".into()),
            by_metadata: false,
            recharge_transactions,
            net_credits,
        }
    }

    fn category(payment: &Payment, recharge: Option<&Recharge>) -> Option<Category> {
        classify(payment, recharge, Some(Mode::Test), "rechargeId").map(|f| f.category)
    }

    #[test]
    fn payments_and_recharges_that_agree_give_nothing() {
        assert_eq!(
            category(&payment("succeeded", 999, 0), Some(&recharge(1, 100))),
            None
        );
        assert_eq!(
            category(&payment("canceled", 0, 0), Some(&recharge(0, 0))),
            None
        );
        assert_eq!(
            category(&payment("succeeded", 999, 999), Some(&recharge(1, 0))),
            None
        );
        assert_eq!(
            category(&payment("requires_payment_method", 0, 0), None),
            None
        );
    }

    #[test]
    fn each_disagreement_has_its_category() {
        use Category::*;
        let cases = [
            (
                payment("succeeded", 999, 0),
                Some(recharge(0, 0)),
                PaidNotCredited,
            ),
            (
                payment("canceled", 0, 0),
                Some(recharge(1, 100)),
                CreditedNotPaid,
            ),
            (
                payment("succeeded", 999, 999),
                Some(recharge(1, 100)),
                RefundedStillCredited,
            ),
            (
                payment("succeeded", 499, 0),
                Some(recharge(1, 100)),
                AmountMismatch,
            ),
            (payment("succeeded", 999, 0), None, PaymentWithoutRecharge),
        ];
        for (payment, recharge, expected) in cases {
            assert_eq!(
                category(&payment, recharge.as_ref()),
                Some(expected),
                "{payment:?}"
            );
        }
        let mut disputed = payment("succeeded", 999, 0);
        disputed.disputed = true;
        assert_eq!(
            category(&disputed, Some(&recharge(1, 100))),
            Some(RefundedStillCredited)
        );
    }
}
