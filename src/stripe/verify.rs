//! Evidence of payment from Stripe (docs/DOMAIN.md, "Evidence of payment",
//! source 4): a payment is evidence only when it succeeded, in the key's
//! mode, for the expected amount and currency, and was neither refunded nor
//! disputed. The repairs and `credits stripe reconcile` judge alike here.

use anyhow::{Context, Result};

use crate::stripe::api::PaymentIntent;
use crate::stripe::client::Client;
use crate::stripe::key::Mode;

/// A payment as Stripe shows it, from the API or from a Dashboard export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The payment intent, `pi_...`.
    pub id: String,
    /// Stripe's PaymentIntent status (`succeeded`, `canceled`, ...).
    pub status: String,
    /// In the currency's minor unit (cents).
    pub amount_received: i64,
    /// Lowercase ISO code, as the API writes it.
    pub currency: String,
    pub amount_refunded: i64,
    pub refunded: bool,
    pub disputed: bool,
    /// None when the source does not say (an export without a Mode column).
    pub mode: Option<Mode>,
    /// The recharge id its metadata names, under the app's metadata key.
    pub recharge_ref: Option<String>,
}

impl Payment {
    /// A payment intent retrieved with `latest_charge` expanded.
    pub fn from_intent(intent: &PaymentIntent, metadata_key: &str) -> Payment {
        let charge = intent.charge();
        Payment {
            id: intent.id.clone(),
            status: intent.status.clone(),
            amount_received: intent.amount_received,
            currency: intent.currency.to_lowercase(),
            amount_refunded: charge.map_or(0, |c| c.amount_refunded),
            refunded: charge.is_some_and(|c| c.refunded),
            disputed: charge.is_some_and(|c| c.disputed),
            mode: Some(Mode::of(intent.livemode)),
            recharge_ref: intent
                .metadata
                .get(metadata_key)
                .filter(|v| !v.is_empty())
                .cloned(),
        }
    }

    /// What this payment proves, for a key of `key_mode` and a recharge of
    /// the expected amount (minor units) and currency where the app stores
    /// them. The first condition that fails is the verdict.
    pub fn judge(
        &self,
        key_mode: Option<Mode>,
        expected_amount: Option<i64>,
        expected_currency: Option<&str>,
    ) -> Verdict {
        if let (Some(key), Some(payment)) = (key_mode, self.mode)
            && key != payment
        {
            return Verdict::OtherMode { payment };
        }
        if self.status != "succeeded" {
            return Verdict::NotSucceeded {
                status: self.status.clone(),
            };
        }
        if self.refunded || self.amount_refunded > 0 {
            return Verdict::Refunded {
                amount_refunded: self.amount_refunded,
            };
        }
        if self.disputed {
            return Verdict::Disputed;
        }
        if let Some(expected) = expected_currency
            && !expected.eq_ignore_ascii_case(&self.currency)
        {
            return Verdict::CurrencyDiffers {
                expected: expected.to_lowercase(),
                received: self.currency.clone(),
            };
        }
        if let Some(expected) = expected_amount
            && expected != self.amount_received
        {
            return Verdict::AmountDiffers {
                expected,
                received: self.amount_received,
            };
        }
        Verdict::Paid
    }
}

/// What a payment proves about a recharge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Evidence of payment: the recharge may be credited.
    Paid,
    /// The payment is of the other mode than the key (test vs live).
    OtherMode {
        payment: Mode,
    },
    /// Not (or not yet) collected: `requires_payment_method`, `canceled`, ...
    NotSucceeded {
        status: String,
    },
    /// Money was given back, in part or whole.
    Refunded {
        amount_refunded: i64,
    },
    /// The customer disputed the charge.
    Disputed,
    CurrencyDiffers {
        expected: String,
        received: String,
    },
    /// In minor units.
    AmountDiffers {
        expected: i64,
        received: i64,
    },
}

impl Verdict {
    pub fn is_paid(&self) -> bool {
        *self == Verdict::Paid
    }

    /// The verdict in words, for a report or an audit row.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Paid => "succeeded, not refunded or disputed".into(),
            Verdict::OtherMode { payment } => {
                format!("a {} mode payment, not of the key's mode", payment.label())
            }
            Verdict::NotSucceeded { status } => format!("not paid: status {status}"),
            Verdict::Refunded { amount_refunded } => {
                format!("refunded ({amount_refunded} in minor units)")
            }
            Verdict::Disputed => "disputed by the customer".into(),
            Verdict::CurrencyDiffers { expected, received } => {
                format!("paid in {received}, the recharge is in {expected}")
            }
            Verdict::AmountDiffers { expected, received } => {
                format!("{received} received, the recharge's price is {expected} (minor units)")
            }
        }
    }
}

/// A verdict with the `Request-Id` of the response it rests on, for the
/// audit row of a repair that acts on it.
#[derive(Debug)]
pub struct Verified {
    pub verdict: Verdict,
    pub request_id: Option<String>,
    pub payment: Payment,
}

/// Asks Stripe about one payment intent and judges it (see [`Payment::judge`]).
pub fn verify_payment(
    client: &Client,
    payment_intent: &str,
    expected_amount: Option<i64>,
    expected_currency: Option<&str>,
) -> Result<Verified> {
    let reply = client
        .get::<PaymentIntent>(
            &format!("/v1/payment_intents/{payment_intent}"),
            &[("expand[]", "latest_charge")],
        )
        .with_context(|| format!("retrieving payment intent {payment_intent}"))?;
    // The metadata key does not matter to the verdict.
    let payment = Payment::from_intent(&reply.body, "");
    Ok(Verified {
        verdict: payment.judge(Some(client.mode()), expected_amount, expected_currency),
        request_id: reply.request_id,
        payment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::key::Key;

    fn intent(json: serde_json::Value) -> Payment {
        let intent: PaymentIntent = serde_json::from_value(json).unwrap();
        Payment::from_intent(&intent, "rechargeId")
    }

    fn paid() -> serde_json::Value {
        serde_json::json!({
            "id": "pi_1", "object": "payment_intent", "status": "succeeded",
            "amount": 999, "amount_received": 999, "currency": "usd", "livemode": false,
            "created": 1_764_000_000, "metadata": {"rechargeId": "r1", "userId": "u1"},
            "latest_charge": {"id": "ch_1", "object": "charge", "amount_refunded": 0,
                              "refunded": false, "disputed": false}
        })
    }

    fn with(path: &[&str], value: serde_json::Value) -> Payment {
        let mut json = paid();
        let mut at = &mut json;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        intent(json)
    }

    #[test]
    fn a_clean_succeeded_payment_is_evidence() {
        let payment = intent(paid());
        assert_eq!(payment.recharge_ref.as_deref(), Some("r1"));
        assert_eq!(
            payment.judge(Some(Mode::Test), Some(999), Some("USD")),
            Verdict::Paid
        );
        // Unknown expectations are not checked.
        assert_eq!(payment.judge(Some(Mode::Test), None, None), Verdict::Paid);
    }

    #[test]
    fn each_failed_condition_is_named() {
        let test = Some(Mode::Test);
        let cases = [
            (
                with(&["livemode"], true.into()),
                Verdict::OtherMode {
                    payment: Mode::Live,
                },
            ),
            (
                with(&["status"], "requires_payment_method".into()),
                Verdict::NotSucceeded {
                    status: "requires_payment_method".into(),
                },
            ),
            (
                with(&["latest_charge", "amount_refunded"], 500.into()),
                Verdict::Refunded {
                    amount_refunded: 500,
                },
            ),
            (
                with(&["latest_charge", "refunded"], true.into()),
                Verdict::Refunded { amount_refunded: 0 },
            ),
            (
                with(&["latest_charge", "disputed"], true.into()),
                Verdict::Disputed,
            ),
            (
                with(&["currency"], "eur".into()),
                Verdict::CurrencyDiffers {
                    expected: "usd".into(),
                    received: "eur".into(),
                },
            ),
            (
                with(&["amount_received"], 499.into()),
                Verdict::AmountDiffers {
                    expected: 999,
                    received: 499,
                },
            ),
        ];
        for (payment, expected) in cases {
            let verdict = payment.judge(test, Some(999), Some("usd"));
            assert_eq!(verdict, expected);
            assert!(!verdict.is_paid());
            assert!(!verdict.describe().is_empty());
        }
    }

    /// One canned HTTP answer on loopback; returns the base URL and the
    /// request line and headers it received.
    fn answer_once(status: &str, body: String) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let status = status.to_string();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            while reader.read_line(&mut request).unwrap() > 2 {}
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Request-Id: req_unit1\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            request
        });
        (base, server)
    }

    fn client(base: &str) -> Client {
        let settings = crate::stripe::client::Settings {
            base: crate::stripe::client::base_url(Some(base)).unwrap(),
            timeout: std::time::Duration::from_secs(10),
            max_rate: None,
        };
        Client::new(Key::parse("sk_test_unit", "test").unwrap(), &settings).unwrap()
    }

    #[test]
    fn verify_payment_retrieves_the_intent_with_its_charge() {
        let mut json = paid();
        json["latest_charge"]["disputed"] = true.into();
        let (base, server) = answer_once("200 OK", json.to_string());
        let verified = verify_payment(&client(&base), "pi_1", Some(999), Some("usd")).unwrap();
        assert_eq!(verified.verdict, Verdict::Disputed);
        assert_eq!(verified.request_id.as_deref(), Some("req_unit1"));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /v1/payment_intents/pi_1?expand%5B%5D=latest_charge "),
            "{request}"
        );
        assert!(
            request.contains(crate::stripe::client::API_VERSION),
            "{request}"
        );
    }

    #[test]
    fn an_unknown_payment_intent_is_stripes_error() {
        let body = serde_json::json!({"error": {"type": "invalid_request_error",
            "code": "resource_missing", "message": "No such payment_intent: 'pi_x'"}});
        let (base, _server) = answer_once("404 Not Found", body.to_string());
        let error = verify_payment(&client(&base), "pi_x", None, None).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("No such payment_intent: 'pi_x'"), "{text}");
        assert!(text.contains("req_unit1"), "{text}");
        assert_eq!(crate::exit::code_of(&error), crate::exit::Code::Database);
    }

    #[test]
    fn an_unexpanded_charge_reads_as_no_refund() {
        let payment = with(&["latest_charge"], "ch_1".into());
        assert_eq!((payment.amount_refunded, payment.disputed), (0, false));
    }
}
