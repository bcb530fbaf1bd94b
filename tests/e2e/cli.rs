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
