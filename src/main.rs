use std::process::ExitCode;

use clap::Parser;

use credits::cli::{Cli, Command};
use credits::commands::{debug, demo, install, status};
use credits::db::Db;
use credits::exit::{self, Code};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            // The whole context chain: what failed, then why.
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit::code_of(&error) as u8)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<Code> {
    let format = cli.global.output;
    match &cli.command {
        Command::Demo(args) => demo::run(args, format),
        Command::Install(args) => install::run(&mut Db::connect(&cli.global)?, args, format),
        Command::Status => status::run(&mut Db::connect(&cli.global)?, format),
        Command::Debug(args) => debug::run(&mut Db::connect(&cli.global)?, args, format),
    }
}
