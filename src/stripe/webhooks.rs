//! The webhook setup as Stripe sees it: whether an enabled endpoint receives
//! the success events, and which success events Stripe could not deliver.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::exit::{Code, fail};
use crate::stripe::api::{Event, SUCCESS_EVENTS, WebhookEndpoint};
use crate::stripe::client::Client;

/// How long Stripe keeps events: an older `--since` cannot be answered.
pub const EVENT_RETENTION_DAYS: i64 = 30;

/// What is wrong with the endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No enabled endpoint receives any success event: payments are never announced.
    NoSuccessEndpoint,
    /// An endpoint Stripe disabled (after failing for days) or someone turned off.
    Disabled { endpoint: String, url: String },
    /// `--expect-url` is not among the endpoints (or not enabled).
    ExpectedUrlMissing { url: String },
    /// An endpoint's API version (None: the account's default) is not `--expect-api-version`.
    ApiVersion {
        endpoint: String,
        url: String,
        found: Option<String>,
        expected: String,
    },
}

impl Problem {
    pub fn name(&self) -> &'static str {
        match self {
            Problem::NoSuccessEndpoint => "NO_SUCCESS_ENDPOINT",
            Problem::Disabled { .. } => "ENDPOINT_DISABLED",
            Problem::ExpectedUrlMissing { .. } => "EXPECTED_URL_MISSING",
            Problem::ApiVersion { .. } => "API_VERSION_MISMATCH",
        }
    }

    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Problem::Disabled { endpoint, .. } | Problem::ApiVersion { endpoint, .. } => {
                Some(endpoint)
            }
            _ => None,
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Problem::NoSuccessEndpoint => format!(
                "no enabled endpoint receives {}: paid checkouts never reach the app",
                SUCCESS_EVENTS.join(", ")
            ),
            Problem::Disabled { url, .. } => format!(
                "{url} is disabled: Stripe sends it nothing; fix the handler, then enable it in the Dashboard"
            ),
            Problem::ExpectedUrlMissing { url } => {
                format!("no enabled endpoint has the URL {url}")
            }
            Problem::ApiVersion {
                url,
                found,
                expected,
                ..
            } => format!(
                "{url} gets events in API version {}, not {expected}: payloads may not have the shape the handler reads",
                found.as_deref().unwrap_or("of the account's default")
            ),
        }
    }
}

/// Every webhook endpoint of the account.
pub fn endpoints(client: &Client) -> Result<Vec<WebhookEndpoint>> {
    let mut all = Vec::new();
    client
        .each_page(
            "/v1/webhook_endpoints",
            &[],
            |page: Vec<WebhookEndpoint>, _| {
                all.extend(page);
                Ok(())
            },
        )
        .context("listing webhook endpoints")?;
    Ok(all)
}

/// The problems of a set of endpoints.
pub fn problems(
    endpoints: &[WebhookEndpoint],
    expect_url: Option<&str>,
    expect_api_version: Option<&str>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let success = |e: &&WebhookEndpoint| SUCCESS_EVENTS.iter().any(|kind| e.receives(kind));
    if !endpoints
        .iter()
        .filter(|e| e.enabled())
        .any(|e| success(&e))
    {
        problems.push(Problem::NoSuccessEndpoint);
    }
    for endpoint in endpoints.iter().filter(|e| !e.enabled()) {
        problems.push(Problem::Disabled {
            endpoint: endpoint.id.clone(),
            url: endpoint.url.clone(),
        });
    }
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if let Some(url) = expect_url
        && !endpoints.iter().any(|e| e.enabled() && same(&e.url, url))
    {
        problems.push(Problem::ExpectedUrlMissing {
            url: url.to_string(),
        });
    }
    if let Some(expected) = expect_api_version {
        for endpoint in endpoints.iter().filter(|e| e.enabled()) {
            if endpoint.api_version.as_deref() != Some(expected) {
                problems.push(Problem::ApiVersion {
                    endpoint: endpoint.id.clone(),
                    url: endpoint.url.clone(),
                    found: endpoint.api_version.clone(),
                    expected: expected.to_string(),
                });
            }
        }
    }
    problems
}

/// Refuses a window Stripe cannot answer for.
pub fn check_window(since: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    if now - since > chrono::Duration::days(EVENT_RETENTION_DAYS) {
        return Err(fail(
            Code::Usage,
            format!(
                "--since reaches back more than {EVENT_RETENTION_DAYS} days: Stripe keeps events \
                 {EVENT_RETENTION_DAYS} days, give 30d or less"
            ),
        ));
    }
    Ok(())
}

/// The success events created since `since` that Stripe has not delivered
/// to every endpoint (failed, or still being retried), a page at a time.
pub fn undelivered(
    client: &Client,
    since: DateTime<Utc>,
    mut page: impl FnMut(Vec<Event>) -> Result<()>,
) -> Result<()> {
    let created = since.timestamp().to_string();
    let mut query = vec![("delivery_success", "false"), ("created[gte]", &created)];
    query.extend(SUCCESS_EVENTS.iter().map(|kind| ("types[]", *kind)));
    client
        .each_page("/v1/events", &query, |events: Vec<Event>, _| {
            page(events.into_iter().filter(Event::is_success).collect())
        })
        .context("listing undelivered events")
}

/// The Stripe CLI command that resends `event` to each enabled endpoint
/// receiving its type (the API has no public resend).
pub fn resend_commands(event: &Event, endpoints: &[WebhookEndpoint]) -> Vec<String> {
    endpoints
        .iter()
        .filter(|e| e.enabled() && e.receives(&event.kind))
        .map(|e| {
            format!(
                "stripe events resend {} --webhook-endpoint {}",
                event.id, e.id
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, status: &str, events: &[&str], version: Option<&str>) -> WebhookEndpoint {
        WebhookEndpoint {
            id: id.into(),
            url: format!("https://app.example.com/{id}"),
            status: status.into(),
            enabled_events: events.iter().map(|e| e.to_string()).collect(),
            api_version: version.map(str::to_string),
        }
    }

    #[test]
    fn a_healthy_setup_has_no_problem() {
        let all = [endpoint(
            "we_1",
            "enabled",
            &["payment_intent.succeeded"],
            Some("2026-01-28.clover"),
        )];
        assert_eq!(
            problems(
                &all,
                Some("https://app.example.com/we_1/"),
                Some("2026-01-28.clover")
            ),
            vec![]
        );
        let star = [endpoint("we_1", "enabled", &["*"], None)];
        assert_eq!(problems(&star, None, None), vec![]);
    }

    #[test]
    fn each_problem_is_found() {
        let all = [
            endpoint("we_1", "disabled", &["payment_intent.succeeded"], None),
            endpoint("we_2", "enabled", &["customer.created"], Some("2024-06-20")),
        ];
        let found = problems(
            &all,
            Some("https://app.example.com/we_1"),
            Some("2026-01-28.clover"),
        );
        let names: Vec<&str> = found.iter().map(Problem::name).collect();
        assert_eq!(
            names,
            [
                "NO_SUCCESS_ENDPOINT",
                "ENDPOINT_DISABLED",
                "EXPECTED_URL_MISSING",
                "API_VERSION_MISMATCH"
            ]
        );
        assert_eq!(found[3].endpoint(), Some("we_2"));
    }

    #[test]
    fn the_window_is_at_most_thirty_days() {
        let now = Utc::now();
        assert!(check_window(now - chrono::Duration::days(30), now).is_ok());
        let error = check_window(now - chrono::Duration::days(31), now).unwrap_err();
        assert_eq!(crate::exit::code_of(&error), Code::Usage);
    }
}
