use crate::harness::credits_with_env;

#[test]
fn the_demo_walks_through_on_its_own_throwaway_server() {
    let run = credits_with_env(&["demo", "--recharges", "1000", "--output", "json"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let document = run.json();
    let steps = document["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["output"].is_object()),
        "each step printed JSON: {run:?}"
    );
    let installs: Vec<&serde_json::Value> = steps
        .iter()
        .filter(|s| s["command"] == "credits install --yes --reason demo")
        .collect();
    assert_eq!(installs.len(), 2);
    assert!(
        !installs[0]["output"]["migrations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        installs[1]["output"]["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["action"] == "blocked"),
        "second install applies nothing (the unique index stays blocked by the incident's double credits)"
    );
    assert!(
        document["planted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "MISSING_TRANSACTION")
    );
}

#[test]
fn a_kept_demo_leaves_an_unrepaired_incident_to_practise_on() {
    let run = credits_with_env(
        &["demo", "--keep", "--shape", "runbook", "--output", "json"],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let kept = run.json()["kept"].clone();
    let stop = kept["stop_command"].as_str().unwrap().to_string();
    let url = kept["database_url"].as_str().unwrap().to_string();
    // Whatever happens below, the kept server goes away.
    struct Stop(String);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("sh")
                .args(["-c", &self.0])
                .status();
        }
    }
    let _stop = Stop(stop);
    let install = credits_with_env(&["install", "--yes"], &[("DATABASE_URL", &url)]);
    assert_eq!(install.code, 0, "{install:?}");
    let debug = credits_with_env(&["debug", "--output", "json"], &[("DATABASE_URL", &url)]);
    assert_eq!(debug.code, 1, "{debug:?}");
    assert!(
        debug.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "MISSING_TRANSACTION"),
        "the practice copy was taken before the walk-through repaired it: {debug:?}"
    );
}

/// The demo as an on-call engineer sees it in an 80-column terminal (a
/// pseudo-terminal from `script`): every table fits, so no id, URL or
/// command is broken across lines. The capture is kept in the test's output
/// and under target/tmp/ to be looked at.
#[test]
fn the_demo_reads_well_in_an_80_column_terminal() {
    let exe = env!("CARGO_BIN_EXE_credits");
    let capture = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-80-columns.txt");
    let status = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("stty cols 80 rows 50; '{exe}' demo --recharges 500"),
            capture.to_str().unwrap(),
        ])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script(1), from util-linux, runs the demo in a pseudo-terminal");
    assert!(status.success(), "{status}");
    let raw = String::from_utf8_lossy(&std::fs::read(&capture).unwrap()).replace('\r', "");
    // Drop terminal escape sequences (cursor moves of the progress bar).
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    println!("--- the demo at 80 columns ---\n{text}");
    let table_lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with(['│', '┌', '╞', '└', '├']))
        .collect();
    assert!(!table_lines.is_empty(), "the demo printed tables");
    for line in table_lines {
        assert!(
            line.chars().count() <= 80,
            "wider than the terminal: {line}"
        );
    }
    assert!(
        text.contains("-[ findings 1 ]-"),
        "wide findings become records"
    );
}
