//! The confirmation every write asks for, unless `--yes`.

use std::io::IsTerminal;

use anyhow::Result;

use crate::cli::WriteOpts;
use crate::exit::{Code, fail};
use crate::output::note;

/// Asks "`action` on `target`?" on the terminal, naming the database so
/// staging is never mistaken for production. The answer is typed and ends
/// with Enter (`y`, `yes`): a stray keypress confirms nothing. Without
/// `--yes` and without a terminal on stdin (a script, cron, CI) it refuses:
/// a write nobody confirmed is not made.
pub fn confirm(write: &WriteOpts, target: &impl std::fmt::Display, action: &str) -> Result<()> {
    if write.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            Code::Usage,
            format!(
                "refusing to {action} on {target} without confirmation: standard input is not a terminal. \
                 Review the plan with --dry-run, then rerun with --yes. Nothing was written."
            ),
        ));
    }
    note("Nothing has been written yet; Ctrl-C here leaves the database as it is.");
    let answer: String = dialoguer::Input::new()
        .with_prompt(format!(
            "{action} on {target}? Type y and Enter to go ahead [y/N]"
        ))
        .allow_empty(true)
        .interact_text()?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(fail(Code::Usage, "not confirmed; nothing was written"))
    }
}
