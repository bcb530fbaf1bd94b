//! The SQL files under `sql/`, embedded at build time (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// The text of `sql/<path>`, for a path read at run time (a migration's
/// precondition header). Code names files by their constants instead.
pub fn file(path: &str) -> anyhow::Result<&'static str> {
    FILES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, text)| *text)
        .ok_or_else(|| anyhow::anyhow!("sql/{path} is not embedded in this binary"))
}

/// Every embedded file below `sql/<dir>/`, sorted by path.
pub fn dir(dir: &str) -> impl Iterator<Item = (&'static str, &'static str)> {
    let prefix = format!("{dir}/");
    FILES.iter().filter_map(move |(name, text)| {
        name.strip_prefix(prefix.as_str()).map(|rest| (rest, *text))
    })
}
