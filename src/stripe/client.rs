//! A small synchronous Stripe API client: GET requests only (the tool only
//! reads Stripe), over the project's rustls with the ring provider.
//!
//! Every request carries the pinned `Stripe-Version`, has a timeout, is
//! paced under Stripe's read rate limit, and is retried with exponential
//! backoff on 429 and 5xx within a bounded total. Failures are a typed
//! [`StripeError`] whose text never holds the key.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::exit::{Code, fail};
use crate::stripe::key::{Key, Mode};

/// The API version every request asks for, so that the shapes read here do
/// not change when the account's default version is upgraded.
pub const API_VERSION: &str = "2026-01-28.clover";

/// Where the API is; `STRIPE_API_BASE` overrides it (a proxy, or a local
/// test server).
pub const DEFAULT_BASE: &str = "https://api.stripe.com";
pub const BASE_VARIABLE: &str = "STRIPE_API_BASE";

/// Stripe's read rate limits per second: a key is paced to stay under them.
const TEST_RATE: u32 = 25;
const LIVE_RATE: u32 = 100;

/// Retries of a 429 or 5xx: at most this many tries, and this much waiting
/// in all, doubling from the first delay.
const MAX_TRIES: u32 = 5;
const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
const MAX_WAITING: Duration = Duration::from_secs(30);

/// How the client is set up, from the command line and the environment.
pub struct Settings {
    /// The API's base URL (see [`base_url`]).
    pub base: Url,
    /// Longest one request may take, connection to last byte.
    pub timeout: Duration,
    /// Requests per second; by default Stripe's read limit for the key's mode.
    pub max_rate: Option<u32>,
}

/// A response body with the `Request-Id` Stripe gave it: what Stripe's
/// support asks for, and what an audit row records as the source.
#[derive(Debug)]
pub struct Reply<T> {
    pub body: T,
    pub request_id: Option<String>,
}

/// Why a request failed.
#[derive(Debug)]
pub enum StripeError {
    /// 401: the key is wrong, expired or revoked.
    KeyRefused { request_id: Option<String> },
    /// 403: a restricted key lacks a permission; Stripe's message names it.
    PermissionMissing {
        permission: Option<String>,
        path: String,
        request_id: Option<String>,
    },
    /// Any other error response, with Stripe's own message.
    Api {
        status: u16,
        kind: String,
        code: Option<String>,
        message: String,
        request_id: Option<String>,
    },
    /// No answer: DNS, connection, TLS or the timeout.
    Network { path: String, message: String },
    /// An answer that is not what the API version promises.
    Unexpected { path: String, message: String },
}

impl fmt::Display for StripeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = |id: &Option<String>| {
            id.as_deref()
                .map_or(String::new(), |id| format!(" (Stripe request {id})"))
        };
        match self {
            StripeError::KeyRefused { request_id } => write!(
                f,
                "the Stripe key was refused: it is wrong, expired or revoked{}. Check {} or \
                 --stripe-key-file, and the key's mode (test or live)",
                request(request_id),
                crate::stripe::key::KEY_VARIABLE
            ),
            StripeError::PermissionMissing {
                permission,
                path,
                request_id,
            } => write!(
                f,
                "the Stripe restricted key may not read {path}{}{}: give the key that Read \
                 permission in the Dashboard (Developers > API keys), or use a key that has it",
                permission
                    .as_deref()
                    .map_or(String::new(), |p| format!(" (it lacks the permission {p})")),
                request(request_id)
            ),
            StripeError::Api {
                status,
                kind,
                code,
                message,
                request_id,
            } => write!(
                f,
                "Stripe answered {status} {kind}{}: {message}{}",
                code.as_deref().map_or(String::new(), |c| format!(" ({c})")),
                request(request_id)
            ),
            StripeError::Network { path, message } => {
                write!(f, "no answer from Stripe for {path}: {message}")
            }
            StripeError::Unexpected { path, message } => {
                write!(f, "Stripe's answer for {path} could not be read: {message}")
            }
        }
    }
}

impl std::error::Error for StripeError {}

/// Stripe's error body: `{"error": {"type", "code", "message", ...}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

/// A list page: `{"object": "list", "data": [...], "has_more": ...}`.
#[derive(Deserialize)]
struct List<T> {
    data: Vec<T>,
    has_more: bool,
}

/// An object in a list, by the id `starting_after` takes.
pub trait Listed {
    fn id(&self) -> &str;
}

pub struct Client {
    agent: ureq::Agent,
    base: Url,
    key: Key,
    /// The least time between two requests, and when the next may start.
    spacing: Duration,
    next_start: Cell<Instant>,
}

impl Client {
    pub fn new(key: Key, settings: &Settings) -> Result<Client> {
        let base = settings.base.clone();
        let rate = settings.max_rate.unwrap_or(match key.mode {
            Mode::Test => TEST_RATE,
            Mode::Live => LIVE_RATE,
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider);
        if base.scheme() == "https" {
            tls = tls.root_certs(system_roots()?);
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(settings.timeout))
            // Status codes are Stripe's answers, read here: not transport errors.
            .http_status_as_error(false)
            .user_agent(concat!("credits/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Client {
            agent,
            base,
            key,
            spacing: Duration::from_secs(1) / rate.max(1),
            next_start: Cell::new(Instant::now()),
        })
    }

    pub fn mode(&self) -> Mode {
        self.key.mode
    }

    /// `GET path?query`, decoded as `T`, retried as the module says.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Reply<T>, StripeError> {
        let mut url = self.base.join(path).map_err(|e| StripeError::Unexpected {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut tries = 0;
        loop {
            tries += 1;
            self.pace();
            let response = self
                .agent
                .get(url.as_str())
                .header("Authorization", self.key.bearer())
                .header("Stripe-Version", API_VERSION)
                .call()
                .map_err(|error| self.network(path, &error, started))?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let request_id = header("Request-Id");
            let should_retry = header("Stripe-Should-Retry");
            let retry_after = header("Retry-After").and_then(|s| s.trim().parse::<u64>().ok());
            let body = response
                .into_body()
                .read_to_string()
                .map_err(|error| self.network(path, &error, started))?;
            if (200..300).contains(&status) {
                let body = serde_json::from_str(&body).map_err(|e| StripeError::Unexpected {
                    path: path.to_string(),
                    message: e.to_string(),
                })?;
                return Ok(Reply { body, request_id });
            }
            let retryable = match should_retry.as_deref() {
                Some("false") => false,
                Some("true") => true,
                _ => status == 429 || status >= 500,
            };
            if retryable && tries < MAX_TRIES {
                let delay = retry_after
                    .map(Duration::from_secs)
                    .unwrap_or(FIRST_DELAY * 2u32.pow(tries - 1))
                    .min(MAX_DELAY);
                if waited + delay <= MAX_WAITING {
                    std::thread::sleep(delay);
                    waited += delay;
                    continue;
                }
            }
            return Err(self.refusal(path, status, &body, request_id, tries));
        }
    }

    /// Every object of a list endpoint, one page (at most 100) at a time,
    /// newest first, handed to `page` with the page's `Request-Id`.
    pub fn each_page<T: DeserializeOwned + Listed>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        mut page: impl FnMut(Vec<T>, Option<String>) -> Result<()>,
    ) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let mut params: Vec<(&str, &str)> = query.to_vec();
            params.push(("limit", "100"));
            if let Some(id) = &after {
                params.push(("starting_after", id));
            }
            let reply: Reply<List<T>> = self.get(path, &params)?;
            let more = reply.body.has_more;
            after = reply.body.data.last().map(|item| item.id().to_string());
            page(reply.body.data, reply.request_id)?;
            if !more || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Waits until the next request may start under the rate limit.
    fn pace(&self) {
        let now = Instant::now();
        let at = self.next_start.get();
        if at > now {
            std::thread::sleep(at - now);
        }
        self.next_start.set(at.max(now) + self.spacing);
    }

    fn network(&self, path: &str, error: &ureq::Error, started: Instant) -> StripeError {
        let message = match error {
            ureq::Error::Timeout(_) => format!(
                "no complete answer within {:.0?} (see --stripe-timeout)",
                started.elapsed()
            ),
            other => self.key.scrub(&other.to_string()),
        };
        StripeError::Network {
            path: path.to_string(),
            message,
        }
    }

    /// The error for a final non-2xx answer.
    fn refusal(
        &self,
        path: &str,
        status: u16,
        body: &str,
        request_id: Option<String>,
        tries: u32,
    ) -> StripeError {
        let error = serde_json::from_str::<ErrorBody>(body)
            .ok()
            .map(|b| b.error);
        let message = error
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .map(|m| self.key.scrub(m));
        match status {
            401 => StripeError::KeyRefused { request_id },
            403 => StripeError::PermissionMissing {
                permission: message.as_deref().and_then(permission_named),
                path: path.to_string(),
                request_id,
            },
            _ => StripeError::Api {
                status,
                kind: error
                    .as_ref()
                    .and_then(|e| e.kind.clone())
                    .unwrap_or_else(|| "error".into()),
                code: error.as_ref().and_then(|e| e.code.clone()),
                message: match message {
                    Some(message) if tries > 1 => format!("{message} (after {tries} tries)"),
                    Some(message) => message,
                    None => format!("no error message (after {tries} tries)"),
                },
                request_id,
            },
        }
    }
}

/// The permission in a 403's message: "Having the 'rak_charge_read'
/// permission would allow this request to continue."
fn permission_named(message: &str) -> Option<String> {
    let start = message.find("'rak_")? + 1;
    let end = start + message[start..].find('\'')?;
    Some(message[start..end].to_string())
}

/// The API's base URL: https, or plain http only to this machine (a test
/// server), so the key never crosses a network in clear.
pub fn base_url(given: Option<&str>) -> Result<Url> {
    let text = given.filter(|s| !s.is_empty()).unwrap_or(DEFAULT_BASE);
    let url = Url::parse(text).map_err(|e| {
        fail(
            Code::Usage,
            format!("{BASE_VARIABLE} {text:?} is not a URL: {e}"),
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(fail(
            Code::Usage,
            format!(
                "{BASE_VARIABLE} {text:?} is plain http to another machine: the key would cross \
                 the network in clear. Use https (plain http is accepted only for 127.0.0.1, ::1 \
                 and localhost)"
            ),
        )),
        other => Err(fail(
            Code::Usage,
            format!("{BASE_VARIABLE} {text:?} has scheme {other:?}; use https"),
        )),
    }
}

/// The system's trusted roots, as for PostgreSQL's verify-full.
fn system_roots() -> Result<ureq::tls::RootCerts> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        return Err(fail(
            Code::Database,
            "no trusted root certificates found on this system to verify api.stripe.com",
        ));
    }
    Ok(found
        .certs
        .into_iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        for ok in [
            None,
            Some("https://api.stripe.com"),
            Some("http://127.0.0.1:12111"),
            Some("http://[::1]:8080"),
            Some("http://localhost:9000"),
        ] {
            assert!(base_url(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "http://api.stripe.com",
            "http://10.0.0.5",
            "ftp://localhost",
            "not a url",
        ] {
            let error = base_url(Some(bad)).unwrap_err();
            assert_eq!(crate::exit::code_of(&error), Code::Usage, "{bad}");
        }
    }

    #[test]
    fn requests_are_paced_under_the_modes_read_limit() {
        let spacing = |key: &str, max_rate: Option<u32>| {
            let settings = Settings {
                base: base_url(Some("http://127.0.0.1:1")).unwrap(),
                timeout: Duration::from_secs(1),
                max_rate,
            };
            Client::new(Key::parse(key, "test").unwrap(), &settings)
                .unwrap()
                .spacing
        };
        assert_eq!(spacing("sk_test_x", None), Duration::from_millis(40));
        assert_eq!(spacing("rk_live_x", None), Duration::from_millis(10));
        assert_eq!(spacing("sk_live_x", Some(4)), Duration::from_millis(250));
    }

    #[test]
    fn the_missing_permission_is_read_from_stripes_message() {
        let message = "The provided key '[key]' does not have the required permissions for this \
                       endpoint on account 'acct_1'. Having the 'rak_webhook_read' permission \
                       would allow this request to continue.";
        assert_eq!(
            permission_named(message).as_deref(),
            Some("rak_webhook_read")
        );
        assert_eq!(permission_named("Forbidden"), None);
    }
}
