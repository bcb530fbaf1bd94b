//! The Stripe objects the tool reads, with only the fields it uses (the
//! shapes of the pinned [`API_VERSION`](super::client::API_VERSION)).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::stripe::client::Listed;

/// The event types that say a one-time payment succeeded (a
/// `checkout.session.completed` only when its `payment_status` is `paid`).
pub const SUCCESS_EVENTS: [&str; 3] = [
    "payment_intent.succeeded",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
];

/// `GET /v1/webhook_endpoints`
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Event types it receives; `*` is all.
    pub enabled_events: Vec<String>,
    /// None: the account's default version.
    pub api_version: Option<String>,
}

impl Listed for WebhookEndpoint {
    fn id(&self) -> &str {
        &self.id
    }
}

impl WebhookEndpoint {
    pub fn enabled(&self) -> bool {
        self.status == "enabled"
    }

    pub fn receives(&self, event_type: &str) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == "*" || e == event_type)
    }
}

/// `GET /v1/events`
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

impl Listed for Event {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: EventObject,
}

/// An event's object: a PaymentIntent or a Checkout Session.
#[derive(Debug, Deserialize)]
pub struct EventObject {
    pub id: String,
    /// `payment_intent` or `checkout.session`.
    pub object: String,
    /// A session's payment intent (null until it has one).
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// A session's `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Event {
    /// The payment intent the event is about.
    pub fn payment_intent(&self) -> Option<&str> {
        let object = &self.data.object;
        match object.object.as_str() {
            "payment_intent" => Some(object.id.as_str()),
            _ => object.payment_intent.as_deref(),
        }
    }

    /// Whether the event says money was collected (an unpaid completed
    /// Checkout Session does not).
    pub fn is_success(&self) -> bool {
        match self.kind.as_str() {
            "checkout.session.completed" => {
                self.data.object.payment_status.as_deref() == Some("paid")
            }
            kind => SUCCESS_EVENTS.contains(&kind),
        }
    }
}

/// `GET /v1/checkout/sessions?payment_intent=...`: the Checkout Session that
/// made a payment. Apps often put the recharge's id on the session (its
/// metadata, or `client_reference_id`) rather than on the payment intent.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub client_reference_id: Option<String>,
}

impl Listed for CheckoutSession {
    fn id(&self) -> &str {
        &self.id
    }
}

impl CheckoutSession {
    /// The recharge it names: its metadata under `metadata_key`, else its
    /// `client_reference_id`.
    pub fn recharge_ref(&self, metadata_key: &str) -> Option<String> {
        self.metadata
            .get(metadata_key)
            .or(self.client_reference_id.as_ref())
            .filter(|id| !id.is_empty())
            .cloned()
    }
}

/// `GET /v1/payment_intents[/{id}]` with `latest_charge` expanded.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    pub amount_received: i64,
    pub currency: String,
    pub livemode: bool,
    pub created: i64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub latest_charge: Option<ChargeRef>,
}

impl Listed for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

impl PaymentIntent {
    /// The expanded latest charge (None when not expanded, or none yet).
    pub fn charge(&self) -> Option<&Charge> {
        match &self.latest_charge {
            Some(ChargeRef::Expanded(charge)) => Some(charge),
            _ => None,
        }
    }
}

/// `latest_charge`: an id, or the charge itself when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ChargeRef {
    Expanded(Charge),
    Id(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount_refunded: i64,
    pub refunded: bool,
    pub disputed: bool,
}
