//! The confirmation every write asks for, unless `--yes`.

use std::io::IsTerminal;

use anyhow::Result;

use crate::cli::WriteOpts;
use crate::exit::{Code, fail};

/// Asks "`action`?" on the terminal. Without `--yes` and without a terminal
/// on stdin (a script, cron, CI) it refuses: a write nobody confirmed is not
/// made.
pub fn confirm(write: &WriteOpts, action: &str) -> Result<()> {
    if write.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            Code::Usage,
            format!(
                "refusing to {action} without confirmation: standard input is not a terminal. \
                 Review the plan with --dry-run, then rerun with --yes. Nothing was written."
            ),
        ));
    }
    let confirmed = dialoguer::Confirm::new()
        .with_prompt(format!("{action}?"))
        .default(false)
        .interact()?;
    if confirmed {
        Ok(())
    } else {
        Err(fail(Code::Usage, "not confirmed; nothing was written"))
    }
}
