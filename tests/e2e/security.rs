//! What the tool installs gives nobody more than it must, and nothing it
//! prints or records carries a secret or a spliced value.

use std::path::Path;

use crate::harness::{TestDb, credits_with_env};

/// Every Rust source file of the tool (not its tests).
fn sources(dir: &Path, files: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn no_sql_is_written_in_rust_nor_built_with_format() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10);
    let keywords = [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "DROP ", "ALTER ", "GRANT ",
        "REVOKE ",
    ];
    for (file, text) in &files {
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for keyword in keywords {
                assert!(
                    !code.contains(&format!("\"{keyword}")),
                    "{file}:{}: SQL in a Rust string; it belongs in a file under sql/",
                    number + 1
                );
            }
            for call in [
                "query(&format!",
                "execute(&format!",
                "batch_execute(&format!",
                "query_one(&format!",
            ] {
                assert!(
                    !code.contains(call),
                    "{file}:{}: SQL built with format!",
                    number + 1
                );
            }
        }
    }
}

#[test]
fn installed_functions_are_locked_down_and_nothing_lands_in_public() {
    let (db, _) = TestDb::with_incident(1000, 100);
    let public_before: Vec<String> = public_objects(&db);
    assert_eq!(db.credits(&["install", "--yes"]).code, 0);
    assert_eq!(
        db.credits(&["rls-fix", "--yes", "--reason", "security test"])
            .code,
        0
    );
    let added: Vec<String> = public_objects(&db)
        .into_iter()
        .filter(|o| !public_before.contains(o))
        .collect();
    for object in &added {
        assert!(
            object.starts_with("index public.credits_") || object.starts_with("policy "),
            "credits created {object} in public"
        );
    }

    let rows = db
        .client()
        .query(
            "SELECT p.oid::regprocedure::text, p.prosecdef, \
                    coalesce(array_to_string(p.proconfig, ','), '') LIKE '%search_path=%', \
                    has_function_privilege('anon', p.oid, 'EXECUTE'), \
                    has_function_privilege('authenticated', p.oid, 'EXECUTE'), \
                    EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a \
                            WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') \
             FROM pg_proc p WHERE p.pronamespace = 'credits_ops'::regnamespace",
            &[],
        )
        .unwrap();
    assert!(rows.len() >= 5, "the tool's functions were found");
    for row in rows {
        let name: String = row.get(0);
        if row.get::<_, bool>(1) {
            assert!(
                row.get::<_, bool>(2),
                "{name} is SECURITY DEFINER without a pinned search_path"
            );
        }
        assert!(!row.get::<_, bool>(3), "anon may execute {name}");
        assert!(!row.get::<_, bool>(4), "authenticated may execute {name}");
        assert!(!row.get::<_, bool>(5), "PUBLIC may execute {name}");
    }
}

fn public_objects(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT CASE c.relkind WHEN 'i' THEN 'index ' ELSE 'relation ' END || 'public.' || c.relname \
               FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace \
             UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p \
               WHERE p.pronamespace = 'public'::regnamespace \
             UNION ALL SELECT 'policy ' || pol.polname || ' on ' || pol.polrelid::regclass::text FROM pg_policy pol",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn a_password_never_reaches_output_or_the_audit_tables() {
    let (db, _) = TestDb::with_incident(1000, 100);
    // The throwaway server trusts loopback, so any password works: what is
    // checked is where the string goes, not whether it is accepted.
    let secret = "Sup3r-s3cret-pw";
    let url = format!("{} password={secret}", db.url);
    let user = db.planted("MISSING_TRANSACTION").user;
    let runs: Vec<Vec<&str>> = vec![
        vec!["install", "--yes"],
        vec!["status", "--output", "json"],
        vec!["debug", "--output", "json"],
        vec!["fix-user", &user, "--yes", "--output", "json"],
        vec!["bulk-fix", "--yes", "--output", "json"],
        vec!["retry-failed", "--yes", "--output", "json"],
        vec!["pause-packages", "--yes"],
        vec!["support", &user, "--output", "json"],
        vec!["log", "--output", "json"],
        vec!["health", "--output", "json"],
    ];
    for args in &runs {
        let run = credits_with_env(args, &[("DATABASE_URL", &url)]);
        assert!(
            run.code == 0 || run.code == 1 || run.code == 2,
            "{args:?}: {run:?}"
        );
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{args:?} printed the password"
        );
    }
    let stored: i64 = db
        .client()
        .query_one(
            "SELECT (SELECT count(*) FROM credits_ops.repair_log l WHERE l::text LIKE '%' || $1 || '%') \
                  + (SELECT count(*) FROM credits_ops.schema_history h WHERE h::text LIKE '%' || $1 || '%')",
            &[&secret],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "the password reached the audit tables");
}
