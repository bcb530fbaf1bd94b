//! `credits health`: Nagios exit codes and plugin line, JSON, and the
//! Prometheus textfile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{Run, TestDb, credits_with_env};

/// A failed recharge with no evidence of payment: FAILED_UNVERIFIED, a warning.
const UNVERIFIED_FAILURE: &str = "INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, created_at) VALUES
    ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000aa', 100, 'failed', 'pi_unverified', now() - interval '3 hours')";

/// A completed recharge never credited: MISSING_TRANSACTION, an error.
const MISSING_CREDIT: &str = "INSERT INTO credit_recharge (id, user_id, amount, status, payment_intent_id, created_at) VALUES
    ('00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000aa', 500, 'completed', 'pi_lost', now() - interval '2 hours')";

fn health(db: &TestDb, args: &[&str]) -> Run {
    let all: Vec<&str> = ["health"].iter().chain(args).copied().collect();
    db.credits(&all)
}

/// The plugin line split into its state, text and perfdata
/// (`label -> (value, warn, crit)`, as written).
struct Plugin {
    state: String,
    text: String,
    perf: BTreeMap<String, (String, String, String)>,
}

fn plugin(run: &Run) -> Plugin {
    assert_eq!(run.stdout.lines().count(), 1, "one line on stdout: {run:?}");
    let line = run.stdout.trim_end();
    let rest = line
        .strip_prefix("CREDITS ")
        .unwrap_or_else(|| panic!("{run:?}"));
    let (status, perfdata) = rest.split_once(" | ").unwrap_or((rest, ""));
    let (state, text) = status
        .split_once(" - ")
        .unwrap_or_else(|| panic!("{run:?}"));
    let mut perf = BTreeMap::new();
    for item in perfdata.split_whitespace() {
        let (label, values) = item.split_once('=').unwrap();
        let parts: Vec<&str> = values.split(';').collect();
        assert_eq!(parts.len(), 3, "label=value;warn;crit: {item}");
        perf.insert(
            label.to_string(),
            (parts[0].into(), parts[1].into(), parts[2].into()),
        );
    }
    Plugin {
        state: state.into(),
        text: text.into(),
        perf,
    }
}

/// Runs health as a plugin and as JSON with the same options and checks
/// that both say the same thing; returns (exit code, plugin, JSON).
fn agreeing(db: &TestDb, args: &[&str]) -> (i32, Plugin, Value) {
    let line = health(db, args);
    let with_json: Vec<&str> = args.iter().copied().chain(["--output", "json"]).collect();
    let json_run = health(db, &with_json);
    let json = json_run.json();
    assert_eq!(line.code, json_run.code, "{line:?}\n{json_run:?}");
    let plugin = plugin(&line);
    let states = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];
    assert_eq!(states[line.code as usize], plugin.state, "{line:?}");
    assert_eq!(json["command"], "health");
    assert_eq!(json["state"], plugin.state.as_str(), "{json}");
    assert_eq!(json["exit_code"], line.code, "{json}");
    // Two runs, one after the other: an age in seconds may have moved on.
    let masked = |text: &str| -> String {
        text.chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect()
    };
    assert_eq!(
        masked(json["summary"].as_str().unwrap()),
        masked(&plugin.text),
        "{json}"
    );
    let metrics = json["metrics"].as_object().unwrap();
    assert_eq!(
        metrics.keys().collect::<Vec<_>>(),
        plugin.perf.keys().collect::<Vec<_>>()
    );
    let mut worst = 0;
    for (key, metric) in metrics {
        let (value, warn, crit) = &plugin.perf[key];
        let number = |v: &Value| v.as_i64().map(|n| n.to_string()).unwrap_or_default();
        let unit = if metric["unit"] == "seconds" { "s" } else { "" };
        let expected_value = match metric["value"].as_i64() {
            Some(n) => format!("{n}{unit}"),
            None => "U".into(),
        };
        if metric["unit"] == "seconds" && value != "U" {
            let seconds = |v: &str| v.trim_end_matches('s').parse::<i64>().unwrap();
            let moved = seconds(value) - seconds(&expected_value);
            assert!((0..=2).contains(&moved.abs()), "{key}: {value} vs {metric}");
        } else {
            assert_eq!(value, &expected_value, "{key}: {metric}");
        }
        assert_eq!(warn, &number(&metric["warn"]), "{key}: {metric}");
        assert_eq!(crit, &number(&metric["crit"]), "{key}: {metric}");
        // A metric's state follows from its value and thresholds.
        let at = |t: &Value| match (metric["value"].as_i64(), t.as_i64()) {
            (Some(v), Some(t)) => v >= t,
            _ => false,
        };
        let state = if at(&metric["crit"]) {
            2
        } else if at(&metric["warn"]) {
            1
        } else {
            0
        };
        assert_eq!(metric["state"], states[state], "{key}: {metric}");
        worst = worst.max(state);
    }
    assert_eq!(
        worst as i32, line.code,
        "the overall state is the worst metric's"
    );
    (line.code, plugin, json)
}

#[test]
fn a_healthy_database_is_ok_and_nothing_is_written() {
    let db = TestDb::healthy();
    let before = db.fingerprint();
    let (code, plugin, json) = agreeing(&db, &[]);
    assert_eq!(code, 0);
    assert_eq!(plugin.state, "OK");
    assert!(plugin.text.contains("within thresholds"), "{}", plugin.text);
    assert_eq!(
        plugin.perf["missing_transaction"],
        ("0".into(), "".into(), "1".into())
    );
    assert_eq!(
        plugin.perf["failed_unverified"],
        ("0".into(), "1".into(), "".into())
    );
    assert_eq!(
        plugin.perf["stuck_pending_age"],
        ("0s".into(), "3600".into(), "14400".into())
    );
    assert_eq!(
        plugin.perf["webhook_failed"],
        ("0".into(), "1".into(), "10".into())
    );
    // The success event arrived 19 minutes ago.
    let age = json["metrics"]["success_event_age"]["value"]
        .as_i64()
        .unwrap();
    assert!((19 * 60..=25 * 60).contains(&age), "{json}");
    assert_eq!(json["metrics"]["success_event_age"]["warn"], 6 * 3600);
    assert_eq!(json["metrics"]["success_event_age"]["crit"], 24 * 3600);
    // Info findings (tables with RLS on and no policy) never alert.
    let info = &json["metrics"]["rls_no_policy"];
    assert!(info["value"].as_i64().unwrap() > 0, "{json}");
    assert_eq!(info["severity"], "info");
    assert_eq!(info["state"], "OK");
    assert_eq!(info["check"], "RLS_NO_POLICY");
    assert_eq!(db.fingerprint(), before, "health is read-only");
}

#[test]
fn a_warning_finding_alone_is_warning_and_thresholds_move_it() {
    let db = TestDb::healthy();
    db.client().batch_execute(UNVERIFIED_FAILURE).unwrap();
    let (code, plugin, json) = agreeing(&db, &[]);
    assert_eq!(code, 1);
    assert_eq!(plugin.text, "1 failed unverified");
    assert_eq!(
        plugin.perf["failed_unverified"],
        ("1".into(), "1".into(), "".into())
    );
    assert_eq!(json["metrics"]["failed_unverified"]["severity"], "warning");

    let (code, _, _) = agreeing(&db, &["--warn", "failed_unverified=off"]);
    assert_eq!(code, 0, "a disabled threshold never alerts");
    let (code, plugin, _) = agreeing(&db, &["--warn", "failed_unverified=2"]);
    assert_eq!(code, 0);
    assert_eq!(plugin.perf["failed_unverified"].1, "2");
    let (code, plugin, _) = agreeing(&db, &["--crit", "FAILED_UNVERIFIED=1"]);
    assert_eq!(code, 2, "keys are case-insensitive");
    assert_eq!(
        plugin.perf["failed_unverified"],
        ("1".into(), "1".into(), "1".into())
    );
    // Age thresholds take seconds or durations.
    let (code, plugin, _) = agreeing(
        &db,
        &[
            "--warn",
            "failed_unverified=off",
            "--warn",
            "success_event_age=10min",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        plugin.text.starts_with("last success event ") && plugin.text.ends_with(" ago"),
        "{}",
        plugin.text
    );
    assert_eq!(plugin.perf["success_event_age"].1, "600");
}

#[test]
fn a_stuck_pending_recharge_reports_its_age() {
    let db = TestDb::healthy();
    db.client()
        .batch_execute(
            "INSERT INTO credit_recharge (user_id, amount, status, payment_intent_id, created_at) VALUES
               ('00000000-0000-4000-8000-0000000000aa', 100, 'pending', 'pi_old', now() - interval '5 hours'),
               ('00000000-0000-4000-8000-0000000000aa', 100, 'pending', 'pi_older', now() - interval '2 hours')",
        )
        .unwrap();
    let (code, plugin, json) = agreeing(&db, &[]);
    assert_eq!(code, 2, "5 hours is over the 4 hour default");
    let age = json["metrics"]["stuck_pending_age"]["value"]
        .as_i64()
        .unwrap();
    assert!((5 * 3600..5 * 3600 + 600).contains(&age), "{json}");
    assert_eq!(json["metrics"]["stuck_pending"]["value"], 2);
    assert!(
        plugin.text.starts_with("oldest stuck pending recharge 5h "),
        "{}",
        plugin.text
    );
    assert!(
        plugin.text.contains("; WARNING: 2 stuck pending"),
        "{}",
        plugin.text
    );
    // Outside the window it is not looked at, as in `credits debug`.
    let (code, _, json) = agreeing(&db, &["--since", "3h"]);
    assert_eq!(code, 1);
    let age = json["metrics"]["stuck_pending_age"]["value"]
        .as_i64()
        .unwrap();
    assert!((2 * 3600..2 * 3600 + 600).contains(&age), "{json}");
}

#[test]
fn the_incident_is_critical_with_the_counts_debug_finds() {
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let (code, plugin, json) = agreeing(&db, &[]);
    assert_eq!(code, 2);
    assert!(
        plugin.text.contains("missing transaction"),
        "{}",
        plugin.text
    );
    let debug = db.credits(&["debug", "--output", "json"]).json();
    for row in debug["summary"].as_array().unwrap() {
        let check = row["check"].as_str().unwrap();
        let metric = &json["metrics"][check.to_lowercase()];
        assert_eq!(metric["check"], check, "the catalogue's own name");
        assert_eq!(metric["value"], row["count"], "{check}: {metric} vs {row}");
        if let Some(count) = row["count"].as_i64().filter(|n| *n > 0) {
            let expected = match row["severity"].as_str().unwrap() {
                "error" => "CRITICAL",
                "warning" => "WARNING",
                _ => "OK",
            };
            assert_eq!(metric["state"], expected, "{check} ({count}): {metric}");
        }
    }
    // One definition: failed webhook events are those debug reports.
    let event_failed = debug["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["check"] == "WEBHOOK_EVENT_FAILED")
        .unwrap()["count"]
        .clone();
    assert!(event_failed.as_i64().unwrap() > 0);
    assert_eq!(json["metrics"]["webhook_failed"]["value"], event_failed);
}

#[test]
fn after_the_repairs_health_and_debug_agree_and_what_is_left_is_for_a_human() {
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    for args in [
        &["bulk-fix", "--yes", "--reverse-duplicates"][..],
        &["retry-failed", "--include-pending", "--yes"],
        &["rls-fix", "--yes"],
    ] {
        let run = db.credits(args);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
    }
    let debug = db.credits(&["debug", "--output", "json"]).json();
    let counts: BTreeMap<String, i64> = debug["summary"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| {
            Some((
                row["check"].as_str()?.to_lowercase(),
                row["count"].as_i64()?,
            ))
        })
        .collect();
    assert_eq!(counts["webhook_event_failed"], 0, "{debug}");
    // What only a human can settle (unverified payments, wrong amounts,
    // refunds, unknown statuses) is switched off; everything else is OK.
    let human = [
        "failed_unverified",
        "stuck_pending",
        "amount_mismatch",
        "refunded_not_debited",
        "unknown_status",
        "stuck_pending_age",
    ];
    let mut args = Vec::new();
    for key in human {
        args.extend(["--warn".to_string(), format!("{key}=off")]);
        args.extend(["--crit".to_string(), format!("{key}=off")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, plugin, json) = agreeing(&db, &args);
    assert_eq!(code, 0, "{}", plugin.text);
    for (check, count) in &counts {
        assert_eq!(json["metrics"][check]["value"], *count, "{check}");
    }
    assert_eq!(json["metrics"]["webhook_failed"]["value"], 0, "{json}");
}

#[test]
fn without_the_webhook_table_its_metrics_are_absent_not_zero() {
    let db = TestDb::healthy();
    db.client()
        .batch_execute("DROP TABLE stripe_webhook_event CASCADE")
        .unwrap();
    // The app changed: install rebuilds the adapter for it.
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let (code, plugin, json) = agreeing(&db, &[]);
    assert_eq!(code, 0, "{}", plugin.text);
    for key in [
        "webhook_failed",
        "success_event_age",
        "webhook_event_failed",
        "webhook_silent",
    ] {
        assert_eq!(plugin.perf[key].0, "U", "{key}");
        let metric = &json["metrics"][key];
        assert!(metric["value"].is_null(), "{key}: {metric}");
        assert!(
            metric["note"]
                .as_str()
                .unwrap()
                .contains("public.stripe_webhook_event"),
            "{key}: {metric}"
        );
    }
    assert_eq!(json["metrics"]["missing_transaction"]["value"], 0);
}

#[test]
fn every_failure_is_unknown_with_one_plugin_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://someone:s3cret-pw@127.0.0.1:{port}/app");
    let unreachable = credits_with_env(&["health"], &[("DATABASE_URL", &url)]);
    let not_installed = TestDb::new();
    let no_contract = TestDb::new();
    no_contract
        .client()
        .batch_execute("ALTER TABLE credit_transaction DROP COLUMN related_recharge_id")
        .unwrap();
    let ok = TestDb::healthy();
    let runs = [
        ("unreachable", unreachable, "127.0.0.1"),
        (
            "not installed",
            health(&not_installed, &[]),
            "credits install",
        ),
        (
            "contract",
            health(&no_contract, &[]),
            "does not meet the credits schema contract",
        ),
        (
            "unknown key",
            health(&ok, &["--warn", "no_such_thing=1"]),
            "unknown key \"no_such_thing\"",
        ),
        (
            "bad count",
            health(&ok, &["--crit", "missing_transaction=lots"]),
            "expected a count",
        ),
        (
            "bad age",
            health(&ok, &["--crit", "stuck_pending_age=soon"]),
            "expected seconds or a duration",
        ),
        ("no =", health(&ok, &["--warn", "webhook_failed"]), "KEY=N"),
        (
            "since",
            health(&ok, &["--since", "2999-01-01"]),
            "in the future",
        ),
        (
            "stuck-after",
            health(&ok, &["--stuck-after", "a while"]),
            "--stuck-after",
        ),
        ("csv", health(&ok, &["--output", "csv"]), "not CSV"),
    ];
    for (what, run, reason) in runs {
        assert_eq!(run.code, 3, "{what}: {run:?}");
        assert_eq!(run.stdout.lines().count(), 1, "{what}: {run:?}");
        assert!(
            run.stdout.starts_with("CREDITS UNKNOWN - "),
            "{what}: {run:?}"
        );
        assert!(run.stdout.contains(reason), "{what}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{what}: {run:?}");
        assert!(
            !run.stdout.contains("s3cret-pw") && !run.stderr.contains("s3cret-pw"),
            "{run:?}"
        );
    }
    // As JSON, the failure is a document too.
    let run = health(&not_installed, &["--output", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let json = run.json();
    assert_eq!(json["state"], "UNKNOWN");
    assert_eq!(json["exit_code"], 3);
    assert!(
        json["error"].as_str().unwrap().contains("credits install"),
        "{json}"
    );
}

/// A fresh empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credits-health-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `{a="x",b="y"}` into its pairs, checking names and escapes.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or_else(|| panic!("labels in braces: {text}"));
    let mut labels = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("label=\"value\"");
        assert!(
            is_metric_name(name) && !name.contains(':'),
            "label name {name}"
        );
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escaped char").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.to_string(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

/// Parses the Prometheus text format strictly enough for node_exporter:
/// every line a `# HELP`, a `# TYPE ... gauge` or a sample with a float
/// value; each family's HELP and TYPE before its samples, its samples
/// together. Returns `name{labels}` -> value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with('\n'), "ends with a newline");
    let mut help: Vec<String> = Vec::new();
    let mut typed: Vec<String> = Vec::new();
    let mut finished: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').expect("# HELP name text");
            assert!(is_metric_name(name) && !doc.trim().is_empty(), "{line}");
            assert!(
                !help.contains(&name.to_string()),
                "one HELP per family: {line}"
            );
            help.push(name.to_string());
            finished.extend(current.take());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(is_metric_name(name), "{line}");
            assert_eq!(kind, "gauge", "{line}");
            assert!(help.contains(&name.to_string()), "HELP before TYPE: {line}");
            assert!(
                !typed.contains(&name.to_string()),
                "one TYPE per family: {line}"
            );
            typed.push(name.to_string());
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect("name value");
            let (name, labels) = match series.find('{') {
                Some(i) => (&series[..i], parse_labels(&series[i..])),
                None => (series, Vec::new()),
            };
            assert!(is_metric_name(name), "{line}");
            assert!(
                help.contains(&name.to_string()) && typed.contains(&name.to_string()),
                "HELP and TYPE before samples: {line}"
            );
            assert!(
                !finished.contains(&name.to_string()),
                "samples together: {line}"
            );
            current = Some(name.to_string());
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("float: {line}"));
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let key = if labels.is_empty() {
                name.to_string()
            } else {
                format!("{name}{{{}}}", labels.join(","))
            };
            assert!(samples.insert(key, value).is_none(), "duplicate: {line}");
        }
    }
    samples
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_prometheus_file_parses_and_is_replaced_whole() {
    let db = TestDb::healthy();
    let dir = scratch_dir("prom");
    let file = dir.join("credits.prom");
    let path = file.to_str().unwrap();

    let run = health(&db, &["--prometheus-file", path]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("CREDITS OK - "), "{run:?}");
    let first = parse_prometheus(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(first["credits_health_state"], 0.0);
    assert_eq!(
        first["credits_findings{check=\"MISSING_TRANSACTION\"}"],
        0.0
    );
    assert_eq!(first["credits_oldest_stuck_pending_seconds"], 0.0);
    assert_eq!(first["credits_webhook_events_failed"], 0.0);
    assert!(first["credits_seconds_since_last_success_event"] >= 19.0 * 60.0);
    let checks = first
        .keys()
        .filter(|k| k.starts_with("credits_findings{"))
        .count();
    assert!(checks >= 16, "one series per check: {first:?}");
    assert_eq!(files_in(&dir), ["credits.prom"]);

    // Different data: the whole file is replaced, nothing left beside it.
    db.client().batch_execute(MISSING_CREDIT).unwrap();
    let run = health(&db, &["--prometheus-file", path, "--output", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.json()["prometheus_file"], path);
    let second = parse_prometheus(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(second["credits_health_state"], 2.0);
    assert_eq!(
        second["credits_findings{check=\"MISSING_TRANSACTION\"}"],
        1.0
    );
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>(),
        "the same series, complete"
    );
    assert_eq!(files_in(&dir), ["credits.prom"]);

    // Without the webhook table its series are absent, not zero.
    db.client()
        .batch_execute("DROP TABLE stripe_webhook_event CASCADE")
        .unwrap();
    // The app changed: install rebuilds the adapter for it.
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    assert_eq!(health(&db, &["--prometheus-file", path]).code, 2);
    let text = std::fs::read_to_string(&file).unwrap();
    let third = parse_prometheus(&text);
    assert!(
        !third.contains_key("credits_webhook_events_failed"),
        "{text}"
    );
    assert!(!third.contains_key("credits_seconds_since_last_success_event"));
    assert!(!third.contains_key("credits_findings{check=\"WEBHOOK_SILENT\"}"));
    assert!(text.contains("# TYPE credits_webhook_events_failed gauge"));

    // A failure replaces the file with the UNKNOWN state, not a stale OK.
    let run = health(&db, &["--prometheus-file", path, "--warn", "bogus=1"]);
    assert_eq!(run.code, 3, "{run:?}");
    let unknown = parse_prometheus(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(
        unknown.into_iter().collect::<Vec<_>>(),
        [("credits_health_state".to_string(), 3.0)]
    );
    assert_eq!(files_in(&dir), ["credits.prom"]);

    // A file that cannot be written is UNKNOWN too.
    let nowhere = dir.join("no-such-dir").join("credits.prom");
    let run = health(&db, &["--prometheus-file", nowhere.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .starts_with("CREDITS UNKNOWN - cannot write --prometheus-file"),
        "{run:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_documents_the_nagios_exit_codes() {
    let run = credits_with_env(&["health", "--help"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    for text in [
        "0  OK",
        "1  WARNING",
        "2  CRITICAL",
        "3  UNKNOWN",
        "unlike the other commands",
        "stuck_pending_age",
        "Example: credits health",
    ] {
        assert!(run.stdout.contains(text), "{text}: {run:?}");
    }
}
