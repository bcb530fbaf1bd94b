use std::process::ExitCode;

use clap::Parser;

use credits::cli::{AuditCommand, Cli, Command};
use credits::commands::{
    audit, bulk_fix, completions, debug, demo, fix_user, health, install, log, packages, pause,
    profile, resume, retry_failed, rls_fix, status, stripe, support,
};
use credits::contract::{self, Need};
use credits::db::Db;
use credits::exit::{self, Code};
use credits::output::note;

fn main() -> ExitCode {
    let cli = Cli::parse();
    credits::output::set_expanded(cli.global.expanded);
    match run(&cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            // The whole context chain: what failed, then why.
            note(format!("error: {error}"));
            for cause in error.chain().skip(1) {
                note(format!("  caused by: {cause}"));
            }
            if let Some(hint) = exit::hint(&error) {
                note(format!("  {hint}"));
            }
            ExitCode::from(exit::code_of(&error) as u8)
        }
    }
}

/// The one preflight of every command that works on a database.
fn open(cli: &Cli, need: Need) -> anyhow::Result<Db> {
    contract::open(&cli.global, need)
}

fn run(cli: &Cli) -> anyhow::Result<Code> {
    let format = cli.global.output;
    match &cli.command {
        Command::Demo(args) => demo::run(args, format),
        Command::BulkFix(args) => bulk_fix::run(&mut open(cli, Need::Installed)?, args, format),
        Command::RetryFailed(args) => {
            retry_failed::run(&mut open(cli, Need::Installed)?, args, format)
        }
        Command::FixUser(args) => fix_user::run(&mut open(cli, Need::Installed)?, args, format),
        Command::Support(args) => support::run(&mut open(cli, Need::Reads)?, args, format),
        Command::Log(args) => log::run(&mut open(cli, Need::Reads)?, args, format),
        Command::Audit(args) => {
            let need = match args.command {
                AuditCommand::Status => Need::Reads,
                _ => Need::Installed,
            };
            audit::run(&mut open(cli, need)?, &args.command, format)
        }
        Command::RlsFix(args) => rls_fix::run(&mut open(cli, Need::Installed)?, args, format),
        Command::Profile(args) => profile::run(&mut open(cli, Need::Connection)?, args, format),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => completions::man(args),
        Command::Install(args) => install::run(&mut open(cli, Need::Connection)?, args, format),
        Command::Status => status::run(&mut open(cli, Need::Connection)?, format),
        Command::Debug(args) => debug::run(&mut open(cli, Need::Reads)?, args, format),
        Command::PausePackages(args) => pause::run(&mut open(cli, Need::Installed)?, args, format),
        Command::ResumePackages(args) => {
            resume::run(&mut open(cli, Need::Installed)?, args, format)
        }
        Command::Packages => packages::run(&mut open(cli, Need::Installed)?, format),
        // The key is checked before the database is connected to.
        Command::Stripe(args) => stripe::run(args, format, || open(cli, Need::Reads)),
        // Connects itself: every failure must become a Nagios UNKNOWN (3).
        Command::Health(args) => health::run(&cli.global, args, format),
    }
}
