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
