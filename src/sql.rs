//! The SQL files under `sql/`, embedded at build time (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// The text of `sql/<path>`. Every path named in the code is a file in the
/// repository, so a missing one is a build defect, not a runtime condition.
pub fn file(path: &str) -> &'static str {
    FILES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("sql/{path} is not embedded in this binary"))
}

/// Every embedded file below `sql/<dir>/`, sorted by path.
pub fn dir(dir: &str) -> impl Iterator<Item = (&'static str, &'static str)> {
    let prefix = format!("{dir}/");
    FILES.iter().filter_map(move |(name, text)| {
        name.strip_prefix(prefix.as_str()).map(|rest| (rest, *text))
    })
}
