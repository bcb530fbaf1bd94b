//! The benchmark at CI size: `credits-bench` runs every case against its own
//! throwaway cluster and writes a row for each. Only that it completes and
//! reports numbers is checked, never how fast anything was.

use std::process::Command;

/// The wall-time cell of the results row of `case`, as a number.
fn wall_times(results: &str, case: &str) -> Vec<f64> {
    results
        .lines()
        .filter(|line| line.starts_with(&format!("| {case} |")))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // "", case, what, wall time, ...; an extrapolated time is "N (extrapolated)".
            let time = cells[3].split_whitespace().next().unwrap_or("");
            time.parse::<f64>().unwrap_or_else(|_| {
                panic!("{case}: wall time {:?} is not a number in {line}", cells[3])
            })
        })
        .collect()
}

#[test]
fn bench_runs_every_case_at_ci_size() {
    let dir = std::env::temp_dir().join(format!("credits-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("bench-results.md");
    let run = Command::new(env!("CARGO_BIN_EXE_credits-bench"))
        .args(["--recharges", "20000", "--cap-seconds", "5"])
        .args(["--writers", "4", "--calls-per-writer", "25"])
        .arg("--out")
        .arg(&out)
        .arg("--credits-bin")
        .arg(env!("CARGO_BIN_EXE_credits"))
        .output()
        .expect("running credits-bench");
    assert!(
        run.status.success(),
        "credits-bench failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let results = std::fs::read_to_string(&out).expect("the results file");
    std::fs::remove_dir_all(&dir).unwrap();
    // The table printed on stdout is the file's.
    assert_eq!(String::from_utf8_lossy(&run.stdout), results);

    // (a) and (b): the view summary and the repair; (c) the bound; (d) the
    // install and five commands.
    for (case, expected) in [("(a)", 2), ("(b)", 2), ("(c)", 1), ("(d)", 6)] {
        let times = wall_times(&results, case);
        assert_eq!(times.len(), expected, "rows of {case} in:\n{results}");
        assert!(
            times.iter().all(|t| t.is_finite() && *t >= 0.0),
            "{case}: {times:?}"
        );
    }
    for command in [
        "credits install --yes",
        "credits debug",
        "credits debug --rescan",
        "credits health",
        "credits bulk-fix --yes",
        "credits retry-failed --yes",
    ] {
        let line = results
            .lines()
            .find(|line| line.starts_with(&format!("| (d) | {command} |")))
            .unwrap_or_else(|| panic!("no row for {command} in:\n{results}"));
        // Peak RSS (MB) is the 7th cell: measured for every credits process.
        let rss = line.split('|').map(str::trim).nth(7).unwrap();
        assert!(
            rss.parse::<f64>().is_ok_and(|mb| mb > 0.0),
            "{command}: peak RSS {rss:?}"
        );
    }
    assert!(results.contains("## Targets"), "{results}");

    // (e): both workloads, without and with the audit trail, every call timed
    // and every webhook call credited.
    let webhook: Vec<Vec<&str>> = results
        .lines()
        .filter(|line| {
            line.starts_with("| apply_recharge (the webhook) |") || line.starts_with("| single-row")
        })
        .map(|line| line.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(webhook.len(), 4, "{results}");
    for cells in &webhook {
        assert_eq!(cells[3], "100", "calls: {cells:?}");
        assert!(
            cells[5].parse::<f64>().is_ok_and(|p99| p99 > 0.0),
            "{cells:?}"
        );
        if cells[1].starts_with("apply_recharge") {
            assert_eq!(cells[7], "100 credited", "{cells:?}");
        }
    }
    assert!(
        results.contains("balance audit trail adds under 15%"),
        "{results}"
    );
}
