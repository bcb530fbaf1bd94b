//! What a diagnosis looks at: a time window, and optionally one user or one
//! payment, resolved from what the operator typed (`--since 36h`,
//! `--user someone@example.com`, `--payment-intent pi_...`).

use anyhow::Result;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use postgres::Transaction;

use crate::exit::{Code, fail};
use crate::sql;

/// When the window starts, parsed from `7d`, `36h`, `2026-11-20` or an
/// RFC 3339 time. A start in the future is a mistake, not an empty window.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let since = if let Ok(ago) = humantime::parse_duration(text) {
        chrono::Duration::from_std(ago)
            .ok()
            .and_then(|ago| now.checked_sub_signed(ago))
    } else if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        date.and_hms_opt(0, 0, 0).map(|midnight| midnight.and_utc())
    } else {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    };
    match since {
        None => Err(fail(
            Code::Usage,
            format!(
                "--since {text:?} is not a duration (7d, 36h), a date (2026-11-20) or an RFC 3339 time"
            ),
        )),
        Some(since) if since > now => Err(fail(
            Code::Usage,
            format!(
                "--since {text:?} is in the future ({since}); give a past date or a duration like 7d"
            ),
        )),
        Some(since) => Ok(since),
    }
}

/// A `--since` as given and as parsed: checked by clap, before any
/// connection is made, so a bad value is a usage error (2).
#[derive(Debug, Clone)]
pub struct Since {
    pub at: DateTime<Utc>,
    pub text: String,
}

impl Since {
    pub fn parse_arg(text: &str) -> std::result::Result<Since, String> {
        parse_since(text, Utc::now())
            .map(|at| Since {
                at,
                text: text.to_string(),
            })
            .map_err(|error| error.to_string())
    }
}

/// The scope of one run, set for the checks as transaction-local settings
/// (see `sql/debug/scope.sql` and `credits_ops.recharge_scope`).
pub struct Scope {
    pub since: DateTime<Utc>,
    pub since_arg: String,
    pub stuck_after: std::time::Duration,
    pub user_id: Option<String>,
    pub payment_intent: Option<String>,
}

impl Scope {
    /// A repair's scope: the window alone, with its stuck-after, every
    /// user and payment intent.
    pub fn window(since: DateTime<Utc>, stuck_after: std::time::Duration) -> Scope {
        Scope {
            since,
            since_arg: since.to_rfc3339_opts(SecondsFormat::Micros, true),
            stuck_after,
            user_id: None,
            payment_intent: None,
        }
    }

    pub fn apply(&self, tx: &mut Transaction<'_>) -> Result<()> {
        let user = self.user_id.clone().unwrap_or_default();
        tx.execute(
            sql::DEBUG_SCOPE,
            &[
                // Microseconds, as PostgreSQL keeps them: the same instant
                // as the window bound as a parameter elsewhere.
                &self.since.to_rfc3339_opts(SecondsFormat::Micros, true),
                &format!("{} seconds", self.stuck_after.as_secs()),
                &user,
                &self.payment_intent.clone().unwrap_or_default(),
                &self.since_arg,
            ],
        )?;
        Ok(())
    }
}

/// The user id that `--user` names: the app's user id (uuid, text or a
/// number: ids are compared as text), or an email in the app's users table.
/// Whitespace around a pasted id is ignored. An id or email the database does
/// not know is an error, not an empty report.
pub fn resolve_user(tx: &mut Transaction<'_>, given: &str) -> Result<String> {
    let given = given.trim();
    let user_id: String = if given.contains('@') {
        let rows = tx.query(sql::LOOKUP_USER_BY_EMAIL, &[&given])?;
        match rows.as_slice() {
            [row] => row.get("user_id"),
            [] => {
                return Err(fail(
                    Code::Usage,
                    format!(
                        "no user with email {given:?} in the app's users table (see `credits profile`)"
                    ),
                ));
            }
            _ => {
                return Err(fail(
                    Code::Usage,
                    format!("several users have email {given:?}; give the user id"),
                ));
            }
        }
    } else {
        given.to_string()
    };
    let known: bool = tx
        .query_one(sql::LOOKUP_USER_KNOWN, &[&user_id])?
        .get("known");
    if !known {
        return Err(fail(
            Code::Usage,
            format!(
                "{user_id:?} is not a user with a recharge, transaction or balance in this database; \
                 give a user id, an email, or a payment intent id (pi_...)"
            ),
        ));
    }
    Ok(user_id)
}

/// The user a support or repair command is about: a user id, an email, or
/// a payment intent (`pi_...`) of one of their recharges.
pub fn resolve_subject(tx: &mut Transaction<'_>, given: &str) -> Result<String> {
    let given = given.trim();
    if !given.starts_with("pi_") {
        return resolve_user(tx, given);
    }
    let rows = tx.query(sql::LOOKUP_RECHARGE_BY_PAYMENT_INTENT, &[&given])?;
    let users: std::collections::BTreeSet<String> =
        rows.iter().map(|row| row.get("user_id")).collect();
    match users.len() {
        1 => Ok(users.into_iter().next().expect("one user")),
        0 => Err(fail(
            Code::Usage,
            format!(
                "no recharge has payment intent {given:?}; check the id in the Stripe dashboard"
            ),
        )),
        _ => Err(fail(
            Code::Usage,
            format!(
                "payment intent {given:?} belongs to recharges of several users; give the user id"
            ),
        )),
    }
}

/// The payment intent `--payment-intent` names, which must belong to a recharge.
pub fn resolve_payment_intent(tx: &mut Transaction<'_>, given: &str) -> Result<String> {
    let given = given.trim();
    let rows = tx.query(sql::LOOKUP_RECHARGE_BY_PAYMENT_INTENT, &[&given])?;
    if rows.is_empty() {
        return Err(fail(
            Code::Usage,
            format!(
                "no recharge has payment intent {given:?}; check the id in the Stripe dashboard (it starts with pi_)"
            ),
        ));
    }
    Ok(given.to_string())
}

pub fn relation_exists(tx: &mut Transaction<'_>, name: &str) -> Result<bool> {
    Ok(tx
        .query_one(sql::DEBUG_RELATION_EXISTS, &[&name])?
        .get("present"))
}

/// Where an operator checks a payment in Stripe.
pub fn dashboard_url(payment_intent: &str) -> String {
    format!("https://dashboard.stripe.com/payments/{payment_intent}")
}

impl Scope {
    /// The scope `debug --user/--payment-intent` names, each resolved to
    /// what the database holds (a usage error when it holds nothing).
    pub fn resolve(tx: &mut Transaction<'_>, args: &crate::cli::ScopeArgs) -> Result<Scope> {
        let since = args.window.since.at;
        let user_id = args
            .user
            .as_deref()
            .map(|user| resolve_user(tx, user))
            .transpose()?;
        let payment_intent = args
            .payment_intent
            .as_deref()
            .map(|pi| resolve_payment_intent(tx, pi))
            .transpose()?;
        Ok(Scope {
            since,
            since_arg: args.window.since.text.clone(),
            stuck_after: args.window.stuck_after,
            user_id,
            payment_intent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn since_accepts_durations_dates_and_times() {
        assert_eq!(
            parse_since("7d", now()).unwrap().to_rfc3339(),
            "2026-11-17T12:00:00+00:00"
        );
        assert_eq!(
            parse_since("36h", now()).unwrap().to_rfc3339(),
            "2026-11-23T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-20", now()).unwrap().to_rfc3339(),
            "2026-11-20T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-20T06:30:00+01:00", now())
                .unwrap()
                .to_rfc3339(),
            "2026-11-20T05:30:00+00:00"
        );
    }

    #[test]
    fn since_rejects_the_future_and_nonsense_as_usage_errors() {
        for text in ["2027-01-01", "yesterday-ish", "", "7 parsecs"] {
            let error = parse_since(text, now()).unwrap_err();
            assert_eq!(crate::exit::code_of(&error), Code::Usage, "{text}");
        }
    }
}
