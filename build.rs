//! Embeds every file under `sql/` in the binary, so a new migration or check
//! is picked up by adding a file, without touching Rust code, and gives each
//! file a constant the code names it by.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "sql") {
            files.push(path);
        }
    }
}

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("sql");
    // A directory makes cargo rerun this script when anything below it changes.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    // One constant per file, named for its path (checks/failed_paid.sql is
    // CHECKS_FAILED_PAID): a file renamed or removed is a build error where
    // it is used, never a run-time surprise. FILES lists them all, for the
    // directories read whole (the checks, the migrations).
    let mut constants = String::new();
    let mut code = String::from("pub static FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        let constant: String = name
            .trim_end_matches(".sql")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        constants.push_str(&format!(
            "/// `sql/{name}`\npub const {constant}: &str = include_str!({:?});\n",
            path.to_str().unwrap()
        ));
        code.push_str(&format!("    ({name:?}, {constant}),\n"));
    }
    code.push_str("];\n");
    code.push_str(&constants);
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("sql_files.rs"),
        code,
    )
    .unwrap();
}
