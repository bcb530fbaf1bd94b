//! What `credits health` measures and how it renders it: the checks
//! catalogue and a few gauges, each against warning and critical
//! thresholds; a Nagios/Icinga plugin line with perfdata, a JSON document,
//! and a Prometheus textfile written atomically.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::checks::{self, Outcome, Severity};
use crate::cli::{Format, GlobalOpts, HealthArgs};
use crate::contract::{self, Need};
use crate::exit::{Code, fail};
use crate::kept;
use crate::output::{Report, note, say};
use crate::scope::{self, Scope};
use crate::sql;

/// The threshold keys that are not check names.
const STUCK_PENDING_AGE: &str = "stuck_pending_age";
const WEBHOOK_FAILED: &str = "webhook_failed";
const SUCCESS_EVENT_AGE: &str = "success_event_age";
/// Measured only with a Stripe key (see `stripe::undelivered_for_health`).
const STRIPE_UNDELIVERED: &str = "stripe_undelivered_events";
/// The check whose findings `webhook_failed` counts.
const WEBHOOK_EVENT_FAILED_CHECK: &str = "WEBHOOK_EVENT_FAILED";

/// A Nagios service state; the order is the severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The Nagios exit code (0-3), which is also `credits_health_state`.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The process exit code. `main` exits with `Code as u8`; the Nagios
    /// numbers coincide with these variants, whatever their usual meaning.
    pub fn code(self) -> Code {
        match self {
            State::Ok => Code::Ok,
            State::Warning => Code::ProblemsFound,
            State::Critical => Code::Usage,
            State::Unknown => Code::Database,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Seconds,
}

/// Warning and critical thresholds: a state is reached at value >= threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    warn: Option<i64>,
    crit: Option<i64>,
}

/// One measured value with its thresholds.
struct Metric {
    /// The threshold key, perfdata label and JSON key: `missing_transaction`.
    key: String,
    /// The check's name as the catalogue has it, for check counts.
    check: Option<String>,
    severity: Option<Severity>,
    unit: Unit,
    /// None when it could not be measured here (an optional table is absent).
    value: Option<i64>,
    /// Why the value is absent.
    note: Option<String>,
    limits: Limits,
}

impl Metric {
    fn state(&self) -> State {
        let Some(value) = self.value else {
            return State::Ok;
        };
        if self.limits.crit.is_some_and(|crit| value >= crit) {
            State::Critical
        } else if self.limits.warn.is_some_and(|warn| value >= warn) {
            State::Warning
        } else {
            State::Ok
        }
    }

    /// What a person reads in the plugin line about this metric.
    fn describe(&self) -> String {
        let value = self.value.unwrap_or_default();
        match self.key.as_str() {
            STUCK_PENDING_AGE => format!("oldest stuck pending recharge {} old", human(value)),
            WEBHOOK_FAILED => format!("{value} failed webhook events"),
            SUCCESS_EVENT_AGE => format!("last success event {} ago", human(value)),
            key => format!("{value} {}", key.replace('_', " ")),
        }
    }
}

/// Everything a run measured.
pub struct Health {
    database: String,
    scope: Scope,
    metrics: Vec<Metric>,
}

impl Health {
    pub fn state(&self) -> State {
        self.metrics
            .iter()
            .map(Metric::state)
            .max()
            .unwrap_or(State::Ok)
    }
}

/// What `--warn`/`--crit` said about one key: None when not given,
/// Some(None) for `off`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Override {
    warn: Option<Option<i64>>,
    crit: Option<Option<i64>>,
}

/// The options, read and checked before connecting.
pub struct Settings {
    scope: Scope,
    overrides: BTreeMap<String, Override>,
    stripe_key_file: Option<std::path::PathBuf>,
    rescan: bool,
}

/// Runs the health check and prints the result; never returns an error for
/// anything but a failure to print, so `main`'s generic error path (and its
/// exit codes) is not used for health. Takes the connection options rather
/// than a `Db` because a failure to connect must be UNKNOWN too.
pub fn read_settings(args: &HealthArgs, format: Format) -> Result<Settings> {
    if format == Format::Csv {
        return Err(fail(
            Code::Usage,
            "health prints a Nagios line (--output table) or JSON (--output json), not CSV",
        ));
    }
    let since = scope::parse_since(&args.since, Utc::now())?;
    let stuck_after = humantime::parse_duration(&args.stuck_after).map_err(|_| {
        fail(
            Code::Usage,
            format!(
                "--stuck-after {:?} is not a duration (1h, 30min)",
                args.stuck_after
            ),
        )
    })?;
    let catalogue = checks::catalogue()?;
    let keys: Vec<(String, Unit)> = catalogue
        .iter()
        .map(|check| (check.name.to_lowercase(), Unit::Count))
        .chain([
            (STUCK_PENDING_AGE.to_string(), Unit::Seconds),
            (WEBHOOK_FAILED.to_string(), Unit::Count),
            (SUCCESS_EVENT_AGE.to_string(), Unit::Seconds),
            (STRIPE_UNDELIVERED.to_string(), Unit::Count),
        ])
        .collect();
    let mut overrides: BTreeMap<String, Override> = BTreeMap::new();
    for text in &args.warn {
        let (key, value) = parse_threshold("--warn", text, &keys)?;
        overrides.entry(key).or_default().warn = Some(value);
    }
    for text in &args.crit {
        let (key, value) = parse_threshold("--crit", text, &keys)?;
        overrides.entry(key).or_default().crit = Some(value);
    }
    Ok(Settings {
        scope: Scope {
            since,
            since_arg: args.since.clone(),
            stuck_after,
            user_id: None,
            payment_intent: None,
        },
        overrides,
        stripe_key_file: args.stripe_key_file.clone(),
        rescan: args.facts.rescan,
    })
}

/// `KEY=N` into a known key and a value (None for `off`).
fn parse_threshold(
    flag: &str,
    text: &str,
    keys: &[(String, Unit)],
) -> Result<(String, Option<i64>)> {
    let usage = |why: String| fail(Code::Usage, format!("{flag} {text:?}: {why}"));
    let Some((key, value)) = text.split_once('=') else {
        return Err(usage("expected KEY=N, e.g. missing_transaction=1".into()));
    };
    let key = key.trim().to_lowercase();
    let Some((_, unit)) = keys.iter().find(|(known, _)| *known == key) else {
        let known: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        return Err(usage(format!(
            "unknown key {key:?}; known keys: {}",
            known.join(", ")
        )));
    };
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok((key, None));
    }
    let parsed = match (value.parse::<i64>(), unit) {
        (Ok(n), _) if n >= 0 => Some(n),
        (Ok(_), _) => None,
        (Err(_), Unit::Seconds) => humantime::parse_duration(value)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok()),
        (Err(_), Unit::Count) => None,
    };
    match parsed {
        Some(n) => Ok((key, Some(n))),
        None if *unit == Unit::Seconds => Err(usage(
            "expected seconds or a duration (3600, 90min, 2h), or off".into(),
        )),
        None => Err(usage("expected a count (0 or more), or off".into())),
    }
}

/// The default thresholds of a key, with the overrides applied.
fn limits(key: &str, severity: Option<Severity>, overrides: &BTreeMap<String, Override>) -> Limits {
    let default = match key {
        STUCK_PENDING_AGE => Limits {
            warn: Some(3600),
            crit: Some(4 * 3600),
        },
        SUCCESS_EVENT_AGE => Limits {
            warn: Some(6 * 3600),
            crit: Some(24 * 3600),
        },
        WEBHOOK_FAILED | STRIPE_UNDELIVERED => Limits {
            warn: Some(1),
            crit: Some(10),
        },
        _ => match severity {
            Some(Severity::Error) => Limits {
                warn: None,
                crit: Some(1),
            },
            Some(Severity::Info) => Limits {
                warn: None,
                crit: None,
            },
            // warning, or a check whose severity cannot be read: alert, mildly
            _ => Limits {
                warn: Some(1),
                crit: None,
            },
        },
    };
    let Some(given) = overrides.get(key) else {
        return default;
    };
    Limits {
        warn: given.warn.unwrap_or(default.warn),
        crit: given.crit.unwrap_or(default.crit),
    }
}

pub fn measure(global: &GlobalOpts, settings: Settings) -> Result<Health> {
    let mut db = contract::open(global, Need::Reads)?;
    let database = db.target.to_string();
    if !settings.rescan {
        kept::refresh(&mut db, kept::REFRESH_BUDGET);
    }
    // Opened first: the snapshot's transaction then borrows `db`.
    let mut second = db
        .reconnect()
        .map_err(|error| note(format!("running every check on one connection: {error:#}")))
        .ok();
    let mut tx = db.snapshot()?;
    settings.scope.apply(&mut tx)?;
    let side = checks::Side::open(second.as_mut(), &mut tx, &settings.scope)?;
    let facts = kept::source(&mut tx, settings.rescan)?;
    let outcomes = checks::count_all(&mut tx, side, &facts)?;
    let oldest_stuck: i64 = tx
        .query_one(facts.over(sql::HEALTH_METRICS).as_str(), &[])
        .context("running sql/health/metrics.sql")?
        .get("oldest_stuck_pending_seconds");
    // The failed events are the check's findings, counted once; the check
    // ran only where the webhook events table exists.
    let failed_events = outcomes
        .iter()
        .find(|o| o.check.name == WEBHOOK_EVENT_FAILED_CHECK)
        .and_then(|o| o.found);
    let webhook = match failed_events {
        Some(failed) => {
            let row = tx
                .query_one(sql::HEALTH_WEBHOOK, &[])
                .context("running sql/health/webhook.sql")?;
            Some((
                failed as i64,
                row.get::<_, Option<i64>>("seconds_since_last_success"),
            ))
        }
        None => None,
    };
    tx.commit()?;

    let overrides = &settings.overrides;
    let mut metrics: Vec<Metric> = outcomes
        .iter()
        .map(|outcome| check_metric(outcome, overrides))
        .collect();
    let gauge = |key: &str, unit: Unit, value: Option<i64>, note: Option<String>| Metric {
        key: key.to_string(),
        check: None,
        severity: None,
        unit,
        value,
        note,
        limits: limits(key, None, overrides),
    };
    let absent = || {
        Some("the app has no webhook events table (public.stripe_webhook_event, or webhook_events.table in credits.toml)".to_string())
    };
    metrics.push(gauge(
        STUCK_PENDING_AGE,
        Unit::Seconds,
        Some(oldest_stuck),
        None,
    ));
    match webhook {
        Some((failed, since_success)) => {
            metrics.push(gauge(WEBHOOK_FAILED, Unit::Count, Some(failed), None));
            let never = since_success
                .is_none()
                .then(|| "no success event is stored".to_string());
            metrics.push(gauge(
                SUCCESS_EVENT_AGE,
                Unit::Seconds,
                since_success,
                never,
            ));
        }
        None => {
            metrics.push(gauge(WEBHOOK_FAILED, Unit::Count, None, absent()));
            metrics.push(gauge(SUCCESS_EVENT_AGE, Unit::Seconds, None, absent()));
        }
    }
    if let Some(undelivered) = crate::stripe::undelivered_for_health(
        settings.scope.since,
        settings.stripe_key_file.as_deref(),
    )? {
        metrics.push(gauge(
            STRIPE_UNDELIVERED,
            Unit::Count,
            Some(undelivered),
            None,
        ));
    }
    Ok(Health {
        database,
        scope: settings.scope,
        metrics,
    })
}

fn check_metric(outcome: &Outcome, overrides: &BTreeMap<String, Override>) -> Metric {
    let check = &outcome.check;
    let key = check.name.to_lowercase();
    let severity = Some(check.severity);
    let limits = limits(&key, severity, overrides);
    Metric {
        key,
        check: Some(check.name.clone()),
        severity,
        unit: Unit::Count,
        value: outcome.found.map(|n| n as i64),
        note: (outcome.found.is_none()).then(|| {
            format!(
                "skipped: {}",
                outcome.skipped.as_deref().unwrap_or_default()
            )
        }),
        limits,
    }
}

/// The plugin line's text: the metrics that set the state, worst first.
fn summary(health: &Health, state: State) -> String {
    let listed = |wanted: State| -> Vec<String> {
        health
            .metrics
            .iter()
            .filter(|m| m.state() == wanted)
            .map(Metric::describe)
            .collect()
    };
    match state {
        State::Ok | State::Unknown => {
            let measured = health.metrics.iter().filter(|m| m.value.is_some()).count();
            format!("{measured} metrics within thresholds")
        }
        State::Warning => listed(State::Warning).join(", "),
        State::Critical => {
            let mut text = listed(State::Critical).join(", ");
            let warnings = listed(State::Warning);
            if !warnings.is_empty() {
                text += &format!("; WARNING: {}", warnings.join(", "));
            }
            text
        }
    }
}

/// Nagios perfdata: `label=value[UOM];warn;crit`, `U` for an absent value.
fn perfdata(health: &Health) -> String {
    let threshold = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
    health
        .metrics
        .iter()
        .map(|m| {
            let value = match (m.value, m.unit) {
                (None, _) => "U".to_string(),
                (Some(v), Unit::Seconds) => format!("{v}s"),
                (Some(v), Unit::Count) => v.to_string(),
            };
            format!(
                "{}={value};{};{}",
                m.key,
                threshold(m.limits.warn),
                threshold(m.limits.crit)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn print(health: &Health, state: State, args: &HealthArgs, format: Format) -> Result<()> {
    let text = summary(health, state);
    if format != Format::Json {
        say(format!(
            "CREDITS {} - {text} | {}",
            state.label(),
            perfdata(health)
        ));
        return Ok(());
    }
    let mut metrics = Map::new();
    for m in &health.metrics {
        metrics.insert(
            m.key.clone(),
            json!({
                "check": m.check,
                "severity": m.severity.map(Severity::as_str),
                "unit": match m.unit { Unit::Count => "count", Unit::Seconds => "seconds" },
                "value": m.value,
                "warn": m.limits.warn,
                "crit": m.limits.crit,
                "state": m.state().label(),
                "note": m.note,
            }),
        );
    }
    let mut report = Report::new("health");
    report.field("database", health.database.clone());
    report.field("since", crate::output::time(&health.scope.since));
    report.field("stuck_after_seconds", health.scope.stuck_after.as_secs());
    report.field("state", state.label());
    report.field("exit_code", state.number());
    report.field("summary", text);
    report.field("error", Value::Null);
    report.field(
        "prometheus_file",
        args.prometheus_file
            .as_ref()
            .map(|p| p.display().to_string()),
    );
    report.field("metrics", metrics);
    report.print(Format::Json)
}

/// The Prometheus text exposition format, gauges only.
pub fn prometheus(health: &Health, state: State) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: &[(String, i64)]| {
        out += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
        for (labels, value) in samples {
            out += &format!("{name}{labels} {value}\n");
        }
    };
    let findings: Vec<(String, i64)> = health
        .metrics
        .iter()
        .filter_map(|m| {
            let check = m.check.as_ref()?;
            Some((format!("{{check=\"{}\"}}", label_value(check)), m.value?))
        })
        .collect();
    family(
        "credits_findings",
        "Findings of each check of the credits catalogue (sql/checks) in the --since window; absent when the check was skipped.",
        &findings,
    );
    let gauge = |key: &str| -> Vec<(String, i64)> {
        health
            .metrics
            .iter()
            .filter(|m| m.key == key)
            .filter_map(|m| Some((String::new(), m.value?)))
            .collect()
    };
    family(
        "credits_oldest_stuck_pending_seconds",
        "Age of the oldest recharge pending longer than --stuck-after and not credited (0 when none).",
        &gauge(STUCK_PENDING_AGE),
    );
    family(
        "credits_webhook_events_failed",
        "Stripe webhook events received in the --since window that failed or were never processed, whose payment is not credited (the check WEBHOOK_EVENT_FAILED); absent without public.stripe_webhook_event.",
        &gauge(WEBHOOK_FAILED),
    );
    family(
        "credits_seconds_since_last_success_event",
        "Seconds since the newest payment success webhook event; absent without public.stripe_webhook_event or any success event.",
        &gauge(SUCCESS_EVENT_AGE),
    );
    family(
        "credits_stripe_undelivered_events",
        "Payment success events Stripe could not deliver to every webhook endpoint in the --since window (at most 30 days); absent without STRIPE_API_KEY.",
        &gauge(STRIPE_UNDELIVERED),
    );
    family(
        "credits_health_state",
        "Overall state of credits health: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios).",
        &[(String::new(), i64::from(state.number()))],
    );
    out
}

/// The file written when health could not be measured: only the state.
pub fn prometheus_unknown() -> String {
    format!(
        "# HELP credits_health_state Overall state of credits health: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios).\n\
         # TYPE credits_health_state gauge\n\
         credits_health_state {}\n",
        State::Unknown.number()
    )
}

fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `contents` to `path` so that a reader sees the old file or the
/// new one, never a part: a temporary file in the same directory (named so
/// node_exporter, which reads only `*.prom`, ignores it), fsynced, renamed
/// over `path`, then the directory fsynced so the rename survives a crash.
pub fn write_atomically(path: &Path, contents: &str) -> Result<()> {
    let shown = path.display();
    let name = path.file_name().ok_or_else(|| {
        fail(
            Code::Usage,
            format!("--prometheus-file {shown} names no file"),
        )
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        // A leftover of a killed run with the same pid; create_new refuses
        // to follow anything found there.
        let _ = fs::remove_file(&temporary);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|error| {
        let _ = fs::remove_file(&temporary);
        anyhow::Error::new(error).context(format!("cannot write --prometheus-file {shown}"))
    })
}

/// An error as one line for the plugin output: the whole chain, first line.
pub fn one_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// 90061 -> "1d 1h", 3720 -> "1h 2m", 75 -> "1m 15s".
fn human(seconds: i64) -> String {
    let d = seconds.max(0);
    match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m {}s", d / 60, d % 60),
        3600..86400 => format!("{}h {}m", d / 3600, d % 3600 / 60),
        _ => format!("{}d {}h", d / 86400, d % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<(String, Unit)> {
        vec![
            ("missing_transaction".into(), Unit::Count),
            (STUCK_PENDING_AGE.into(), Unit::Seconds),
        ]
    }

    #[test]
    fn thresholds_parse_counts_durations_and_off() {
        assert_eq!(
            parse_threshold("--crit", "MISSING_TRANSACTION=5", &keys()).unwrap(),
            ("missing_transaction".into(), Some(5))
        );
        assert_eq!(
            parse_threshold("--warn", "stuck_pending_age=2h", &keys()).unwrap(),
            (STUCK_PENDING_AGE.into(), Some(7200))
        );
        assert_eq!(
            parse_threshold("--warn", "stuck_pending_age=off", &keys()).unwrap(),
            (STUCK_PENDING_AGE.into(), None)
        );
        for bad in [
            "missing_transaction",
            "nope=1",
            "missing_transaction=-1",
            "missing_transaction=2h",
            "stuck_pending_age=soon",
        ] {
            let error = parse_threshold("--warn", bad, &keys()).unwrap_err();
            assert_eq!(crate::exit::code_of(&error), Code::Usage, "{bad}");
        }
    }

    #[test]
    fn defaults_follow_severity_and_overrides_win() {
        let none = BTreeMap::new();
        let l = |warn, crit| Limits { warn, crit };
        assert_eq!(limits("x", Some(Severity::Error), &none), l(None, Some(1)));
        assert_eq!(
            limits("x", Some(Severity::Warning), &none),
            l(Some(1), None)
        );
        assert_eq!(limits("x", Some(Severity::Info), &none), l(None, None));
        assert_eq!(
            limits(STUCK_PENDING_AGE, None, &none),
            l(Some(3600), Some(14400))
        );
        let mut overrides = BTreeMap::new();
        let off = Override {
            warn: Some(None),
            crit: None,
        };
        overrides.insert("x".to_string(), off);
        assert_eq!(
            limits("x", Some(Severity::Warning), &overrides),
            l(None, None)
        );
        let crit = Override {
            warn: None,
            crit: Some(Some(3)),
        };
        overrides.insert("x".to_string(), crit);
        assert_eq!(
            limits("x", Some(Severity::Warning), &overrides),
            l(Some(1), Some(3))
        );
    }

    #[test]
    fn durations_read_shortly() {
        assert_eq!(human(5), "5s");
        assert_eq!(human(75), "1m 15s");
        assert_eq!(human(3720), "1h 2m");
        assert_eq!(human(90061), "1d 1h");
    }
}
