//! Exit codes scripts and monitors can rely on, and the error that carries one.

use std::fmt;

/// The process exit codes, documented in `--help` and README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Success, or nothing found.
    Ok = 0,
    /// A diagnosis command found problems (or `status` found drift).
    ProblemsFound = 1,
    /// Usage error, or the confirmation was refused.
    Usage = 2,
    /// Connection or database error.
    Database = 3,
    /// The database does not meet the schema contract.
    Contract = 4,
    /// A repair finished partly: some items failed, all are reported.
    Partial = 5,
}

/// An error that decides the exit code. Anything else in an `anyhow` chain
/// without one is treated by `main` as a database/runtime error (3), except
/// clap's own usage errors (2).
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An `anyhow::Error` that exits with `code` and says `message`.
pub fn fail(code: Code, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        message: message.into(),
    })
}

/// The exit code an error chain asks for.
pub fn code_of(error: &anyhow::Error) -> Code {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>().map(|f| f.code))
        .unwrap_or(Code::Database)
}

/// A line telling the operator what an error from the server means and what
/// to do, for the errors whose server message alone does not say it.
pub fn hint(error: &anyhow::Error) -> Option<&'static str> {
    let code = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<postgres::Error>())
        .and_then(|e| e.code())?;
    if *code == postgres::error::SqlState::QUERY_CANCELED {
        return Some(
            "the server cancelled the statement: it ran longer than --statement-timeout (60s unless \
             given). Nothing of the cancelled transaction was written. On a large database, rerun \
             with a longer one, e.g. --statement-timeout 10min.",
        );
    }
    if *code == postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION {
        return Some(
            "the database is read-only (a replica, or default_transaction_read_only = on); \
             nothing was written. Connect to the primary database to make changes.",
        );
    }
    None
}
