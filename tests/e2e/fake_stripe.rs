//! A fake Stripe API on loopback, for the `credits stripe` tests: the list,
//! retrieve and error shapes of the real API (`{"object": "list", "data",
//! "has_more", "url"}`, `{"error": {"type", "code", "message"}}`, the
//! `Request-Id` header), serving the objects a test seeds, and the faults
//! a test asks for. Plain HTTP/1.1 on std, one thread per connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

/// The key the fake accepts in full.
pub const KEY: &str = "sk_test_51FakeKeyForTheTestsOnly0123456789abcdef";

/// What the fake answers the next request to a path with, instead of data.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 rate limited (Stripe's `rate_limit` error).
    RateLimited,
    /// 500 `api_error`, with `Stripe-Should-Retry` as given.
    ServerError { should_retry: bool },
    /// The normal answer, after this long.
    Slow(Duration),
}

/// A restricted key and the one permission it lacks, for a path prefix.
pub struct Restricted {
    pub key: String,
    pub permission: String,
    pub path: String,
}

#[derive(Default)]
pub struct Seed {
    pub webhook_endpoints: Vec<Value>,
    /// Events; `"_delivered": true` marks one delivered to every endpoint.
    pub events: Vec<Value>,
    /// Payment intents with `latest_charge` as the charge object (or null):
    /// served as its id unless expanded.
    pub payment_intents: Vec<Value>,
    /// Checkout Sessions, listed by their `payment_intent`.
    pub checkout_sessions: Vec<Value>,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HashMap<String, String>,
}

struct State {
    seed: Seed,
    /// Faults per path, served first-in first-out, once each.
    faults: Vec<(String, Fault)>,
    restricted: Option<Restricted>,
    requests: Vec<Request>,
}

pub struct FakeStripe {
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    address: std::net::SocketAddr,
}

static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

impl FakeStripe {
    pub fn start(seed: Seed) -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake Stripe");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            seed,
            faults: Vec::new(),
            restricted: None,
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    thread::spawn(move || serve(stream, &state));
                }
            });
        }
        FakeStripe {
            base: format!("http://{address}"),
            state,
            stop,
            address,
        }
    }

    /// The next request to `path` gets `fault` (once).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((path.to_string(), fault));
    }

    pub fn restrict(&self, restricted: Restricted) {
        self.state.lock().unwrap().restricted = Some(restricted);
    }

    /// The requests received for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_lowercase(), value.trim().to_string());
        }
    }
    let url = url::Url::parse(&format!("http://fake{target}")).unwrap();
    let request = Request {
        path: url.path().to_string(),
        query: url.query_pairs().into_owned().collect(),
        headers,
    };
    let (status, body, extra, delay) = answer(&request, state);
    if let Some(delay) = delay {
        thread::sleep(delay);
    }
    let body = body.to_string();
    let id = NEXT_REQUEST.fetch_add(1, Ordering::SeqCst);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Request-Id: req_fake{id:06}\r\nStripe-Version: {}\r\nConnection: close\r\n",
        body.len(),
        credits::stripe::client::API_VERSION
    );
    for (name, value) in extra {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&body);
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

type Answer = (u16, Value, Vec<(&'static str, String)>, Option<Duration>);

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Answer {
    let mut object = json!({"type": kind, "message": message});
    if let Some(code) = code {
        object["code"] = code.into();
        object["doc_url"] = format!("https://stripe.com/docs/error-codes/{code}").into();
    }
    (status, json!({ "error": object }), Vec::new(), None)
}

/// Stripe's own masking of a key in its messages: prefix, stars, last four.
fn masked(key: &str) -> String {
    let prefix = &key[..8];
    format!("{prefix}{}{}", "*".repeat(24), &key[key.len() - 4..])
}

fn answer(request: &Request, state: &Mutex<State>) -> Answer {
    let mut state = state.lock().unwrap();
    state.requests.push(request.clone());
    let key = request
        .headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let restricted = state.restricted.as_ref().filter(|r| r.key == key);
    if key != KEY && restricted.is_none() {
        return error(
            401,
            "invalid_request_error",
            None,
            &format!("Invalid API Key provided: {}", masked(&key)),
        );
    }
    if let Some(r) = restricted
        && request.path.starts_with(&r.path)
    {
        return error(
            403,
            "invalid_request_error",
            None,
            &format!(
                "The provided key '{}' does not have the required permissions for this endpoint \
                 on account 'acct_1Fake'. Having the '{}' permission would allow this request to \
                 continue.",
                masked(&key),
                r.permission
            ),
        );
    }
    let mut delay = None;
    if let Some(at) = state
        .faults
        .iter()
        .position(|(path, _)| *path == request.path)
    {
        match state.faults.remove(at).1 {
            Fault::RateLimited => {
                return error(
                    429,
                    "invalid_request_error",
                    Some("rate_limit"),
                    "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                );
            }
            Fault::ServerError { should_retry } => {
                let mut answer = error(
                    500,
                    "api_error",
                    None,
                    "Sorry, something went wrong. We've already been notified of the problem.",
                );
                answer
                    .2
                    .push(("Stripe-Should-Retry", should_retry.to_string()));
                return answer;
            }
            Fault::Slow(duration) => delay = Some(duration),
        }
    }
    let param = |name: &str| {
        request
            .query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let created_gte: Option<i64> = param("created[gte]").first().and_then(|v| v.parse().ok());
    let expand = param("expand[]");
    let mut answer = match request.path.as_str() {
        "/v1/webhook_endpoints" => list(request, &state.seed.webhook_endpoints, |_| true),
        "/v1/checkout/sessions" => {
            let payment_intent = param("payment_intent").first().map(|v| v.to_string());
            list(request, &state.seed.checkout_sessions, |session| {
                payment_intent
                    .as_deref()
                    .is_none_or(|pi| session["payment_intent"] == pi)
            })
        }
        "/v1/events" => {
            let undelivered_only = param("delivery_success").first() == Some(&"false");
            let types = param("types[]");
            list(request, &state.seed.events, |event| {
                (!undelivered_only || event["_delivered"] != true)
                    && (types.is_empty() || types.contains(&event["type"].as_str().unwrap()))
                    && created_gte.is_none_or(|gte| event["created"].as_i64().unwrap() >= gte)
            })
        }
        "/v1/payment_intents" => {
            let intents: Vec<Value> = state
                .seed
                .payment_intents
                .iter()
                .map(|pi| collapse(pi, expand.contains(&"data.latest_charge")))
                .collect();
            list(request, &intents, |pi| {
                created_gte.is_none_or(|gte| pi["created"].as_i64().unwrap() >= gte)
            })
        }
        path => match path.strip_prefix("/v1/payment_intents/") {
            Some(id) => match state.seed.payment_intents.iter().find(|pi| pi["id"] == id) {
                Some(pi) => (
                    200,
                    collapse(pi, expand.contains(&"latest_charge")),
                    Vec::new(),
                    None,
                ),
                None => error(
                    404,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such payment_intent: '{id}'"),
                ),
            },
            None => error(
                404,
                "invalid_request_error",
                None,
                &format!("Unrecognized request URL (GET: {path})."),
            ),
        },
    };
    answer.3 = delay;
    answer
}

/// A payment intent as served: `latest_charge` an id unless expanded.
fn collapse(pi: &Value, expanded: bool) -> Value {
    let mut pi = pi.clone();
    if !expanded && pi["latest_charge"].is_object() {
        pi["latest_charge"] = pi["latest_charge"]["id"].clone();
    }
    pi
}

/// A list page as Stripe serves it: newest first, `limit` (default 10, at
/// most 100), `starting_after`, `has_more`.
fn list(request: &Request, items: &[Value], keep: impl Fn(&Value) -> bool) -> Answer {
    let get = |name: &str| {
        request
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let limit: usize = get("limit").and_then(|v| v.parse().ok()).unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            "This value must be less than or equal to 100.",
        );
    }
    let mut kept: Vec<Value> = items.iter().filter(|item| keep(item)).cloned().collect();
    kept.sort_by_key(|item| std::cmp::Reverse(item["created"].as_i64().unwrap_or(0)));
    let start = match get("starting_after") {
        Some(after) => match kept.iter().position(|item| item["id"] == after.as_str()) {
            Some(at) => at + 1,
            None => {
                return error(
                    404,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such object: '{after}'"),
                );
            }
        },
        None => 0,
    };
    let rest = &kept[start.min(kept.len())..];
    let data: Vec<Value> = rest
        .iter()
        .take(limit)
        .map(|item| {
            let mut item = item.clone();
            if let Some(object) = item.as_object_mut() {
                object.retain(|k, _| !k.starts_with('_'));
            }
            item
        })
        .collect();
    (
        200,
        json!({
            "object": "list",
            "data": data,
            "has_more": rest.len() > limit,
            "url": request.path,
        }),
        Vec::new(),
        None,
    )
}

/// A webhook endpoint as the API returns it.
pub fn endpoint(
    id: &str,
    url: &str,
    status: &str,
    events: &[&str],
    version: Option<&str>,
) -> Value {
    json!({
        "id": id, "object": "webhook_endpoint", "api_version": version, "application": null,
        "created": 1_700_000_000, "description": null, "enabled_events": events,
        "livemode": false, "metadata": {}, "status": status, "url": url
    })
}

/// A payment intent of `amount` (minor units) with its charge; `refunded`
/// is the amount refunded. `metadata` as the app sets it.
pub fn payment_intent(
    id: &str,
    status: &str,
    amount: i64,
    currency: &str,
    created: i64,
    metadata: Value,
    refunded: i64,
) -> Value {
    let succeeded = status == "succeeded";
    json!({
        "id": id, "object": "payment_intent", "amount": amount,
        "amount_received": if succeeded { amount } else { 0 },
        "currency": currency, "created": created, "livemode": false, "status": status,
        "metadata": metadata, "capture_method": "automatic",
        "latest_charge": if succeeded {
            json!({"id": format!("ch_{}", &id[3..]), "object": "charge", "amount": amount,
                   "amount_captured": amount, "amount_refunded": refunded,
                   "refunded": refunded >= amount, "disputed": false, "paid": true,
                   "payment_intent": id, "status": "succeeded"})
        } else {
            Value::Null
        }
    })
}

/// An event about a payment intent, or about a Checkout Session paying one.
pub fn event(id: &str, kind: &str, payment_intent: &str, created: i64, delivered: bool) -> Value {
    let object = if kind.starts_with("checkout.session") {
        json!({"id": format!("cs_test_{id}"), "object": "checkout.session",
               "payment_intent": payment_intent, "payment_status": "paid",
               "mode": "payment", "metadata": {}})
    } else {
        json!({"id": payment_intent, "object": "payment_intent", "status": "succeeded",
               "metadata": {}})
    };
    json!({
        "id": id, "object": "event", "api_version": credits::stripe::client::API_VERSION,
        "created": created, "data": {"object": object}, "livemode": false,
        "pending_webhooks": if delivered { 0 } else { 1 },
        "request": {"id": null, "idempotency_key": null}, "type": kind,
        "_delivered": delivered
    })
}
