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
