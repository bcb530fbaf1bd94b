//! `credits completions` and `credits man`: generated from the clap
//! definitions, so they never disagree with `--help`.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::Code;
use crate::output::{note, say_bytes};

pub fn run(args: &CompletionsArgs) -> Result<Code> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "credits", &mut script);
    say_bytes(&script);
    Ok(Code::Ok)
}

/// The top-level page on stdout, or every command's page in `--out-dir`.
pub fn man(args: &ManArgs) -> Result<Code> {
    match &args.out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            say_bytes(&page);
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            note(format!("man pages written to {}", dir.display()));
        }
    }
    Ok(Code::Ok)
}
