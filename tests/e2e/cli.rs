use crate::harness::{TestDb, credits_with_env};

#[test]
fn every_command_speaks_json_and_csv() {
    let db = TestDb::new();
    for args in [
        &["status"][..],
        &["install", "--dry-run"],
        &["install", "--yes"],
        &["status"],
    ] {
        let json_args: Vec<&str> = args.iter().copied().chain(["--output", "json"]).collect();
        let run = db.credits(&json_args);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.json()["command"], args[0], "{run:?}");

        let csv_args: Vec<&str> = args.iter().copied().chain(["--output", "csv"]).collect();
        let run = db.credits(&csv_args);
        assert_eq!(run.code, 0, "{run:?}");
        let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
        assert!(
            reader.headers().unwrap().iter().any(|h| h == "version"),
            "{run:?}"
        );
        assert!(reader.records().all(|r| r.is_ok()), "{run:?}");
    }
}

#[test]
fn a_table_is_plain_text_when_stdout_is_not_a_terminal() {
    let db = TestDb::new();
    let run = db.credits(&["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("| version"), "{run:?}");
    assert!(run.stdout.is_ascii(), "{run:?}");
    assert!(!run.stdout.contains('\u{1b}'), "no escape codes: {run:?}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["status", "--output", "xml"][..],
        &["no-such-command"],
        &["status", "--lock-timeout", "soon"],
    ] {
        let run = credits_with_env(args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "errors go to stderr: {run:?}");
    }
}

#[test]
fn an_unreachable_server_exits_3_without_printing_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://someone:s3cret-pw@127.0.0.1:{port}/app");
    let run = credits_with_env(&["status"], &[("DATABASE_URL", &url)]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "names what failed: {run:?}"
    );
    assert!(
        !run.stderr.contains("s3cret-pw") && !run.stdout.contains("s3cret-pw"),
        "{run:?}"
    );
}

#[test]
fn help_documents_exit_codes() {
    let run = credits_with_env(&["--help"], &[]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("4  the database does not meet the schema contract"),
        "{run:?}"
    );
    assert!(
        !run.stdout.contains("DATABASE_URL=postgres"),
        "env values stay hidden"
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    use clap::CommandFactory;
    let command = credits::cli::Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    assert!(names.len() >= 6, "{names:?}");
    for name in names {
        let run = credits_with_env(&[&name, "--help"], &[]);
        assert_eq!(run.code, 0, "{name}: {run:?}");
        assert!(
            run.stdout.contains("Example: credits"),
            "credits {name} --help has no example: {run:?}"
        );
    }
}

#[test]
fn completions_and_man_pages_are_generated_from_the_cli() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef credits"),
        ("fish", "complete -c credits"),
    ] {
        let run = credits_with_env(&["completions", shell], &[]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains(marker), "{shell}: {run:?}");
        assert!(
            run.stdout.contains("install"),
            "{shell} completes subcommands"
        );
    }
    let page = credits_with_env(&["man"], &[]);
    assert_eq!(page.code, 0);
    assert!(
        page.stdout.starts_with(".ie") && page.stdout.contains(".TH credits 1"),
        "{page:?}"
    );

    let dir = std::env::temp_dir().join(format!("credits-man-{}", std::process::id()));
    let run = credits_with_env(&["man", "--out-dir", dir.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    for page in ["credits.1", "credits-debug.1", "credits-install.1"] {
        assert!(dir.join(page).is_file(), "{page} written");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `credits` with stdout already closed by its reader, as `| head -0`
/// at its most abrupt: every write to stdout fails with EPIPE.
fn with_stdout_closed(db: &TestDb, args: &[&str]) -> (i32, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().expect("exited, not killed"),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_exit_code_the_command_would_have() {
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let email = db.planted("MISSING_TRANSACTION").email;
    for args in [
        &["debug"][..],
        &["debug", "--output", "json"],
        &["debug", "--output", "csv"],
        &["support", &email],
        &["support", &email, "--markdown"],
        &["log"],
        &["status"],
        &["packages"],
        &["profile"],
        &["health"],
        &["retry-failed", "--dry-run"],
        &["bulk-fix", "--dry-run"],
        &["rls-fix", "--check"],
        &["man"],
        &["completions", "bash"],
    ] {
        let expected = db.credits(args).code;
        let (code, stderr) = with_stdout_closed(&db, args);
        assert_eq!(code, expected, "{args:?}: {stderr}");
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn expanded_output_keeps_every_id_url_and_command_whole_on_its_line() {
    let (db, _) = TestDb::with_incident(1000, 100);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    let json = db.credits(&["debug", "--all", "--output", "json"]).json();
    let run = db.credits(&["debug", "--all", "--expanded"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("-[ findings 1 ]-"), "{run:?}");
    for finding in json["findings"].as_array().unwrap() {
        for key in ["recharge_id", "user_id", "fix", "dashboard_url"] {
            if let Some(value) = finding[key].as_str() {
                let line = format!("{key}:");
                assert!(
                    run.stdout
                        .lines()
                        .any(|l| l.starts_with(&line) && l.ends_with(value)),
                    "{key} {value} is not whole on its line"
                );
            }
        }
    }
}

#[test]
fn a_usage_error_never_shows_an_option_from_the_environment_as_required() {
    for command in ["fix-user", "support", "completions"] {
        let run = credits_with_env(
            &[command],
            &[("DATABASE_URL", "postgresql://x@127.0.0.1:1/x")],
        );
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("Usage: credits"), "{run:?}");
        assert!(!run.stderr.contains("--database-url"), "{command}: {run:?}");
    }
}
