//! `credits health`: for monitors and cron. Three outputs: a Nagios/Icinga
//! plugin line with perfdata (the default, `--output table`), a JSON
//! document (`--output json`), and a Prometheus textfile
//! (`--prometheus-file`).
//!
//! Exit codes follow the Nagios plugin convention (0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN), not the tool's usual ones, and every failure,
//! from a bad threshold to a lost connection, is caught here and reported as
//! UNKNOWN: a monitor must never read "the tool crashed" as a state.

use anyhow::Result;
use serde_json::Map;

use crate::cli::{Format, GlobalOpts, HealthArgs};
use crate::exit::Code;
use crate::health::{
    State, measure, one_line, print, prometheus, prometheus_unknown, read_settings,
    write_atomically,
};
use crate::output::{Report, note, say};

pub fn run(global: &GlobalOpts, args: &HealthArgs, format: Format) -> Result<Code> {
    let measured = read_settings(args, format).and_then(|settings| measure(global, settings));
    let (state, outcome) = match measured {
        Ok(health) => {
            let state = health.state();
            match &args.prometheus_file {
                Some(path) => match write_atomically(path, &prometheus(&health, state)) {
                    Ok(()) => (state, Ok(health)),
                    Err(error) => (State::Unknown, Err(error)),
                },
                None => (state, Ok(health)),
            }
        }
        Err(error) => {
            // Replace the previous file, so no stale OK is scraped meanwhile.
            if let Some(path) = &args.prometheus_file
                && let Err(write_error) = write_atomically(path, &prometheus_unknown())
            {
                note(format!("error: {write_error:#}"));
            }
            (State::Unknown, Err(error))
        }
    };
    match outcome {
        Ok(health) => print(&health, state, args, format)?,
        Err(error) => {
            let reason = one_line(&error);
            if format == Format::Json {
                let mut report = Report::new("health");
                report.field("state", State::Unknown.label());
                report.field("exit_code", State::Unknown.number());
                report.field("summary", reason.clone());
                report.field("error", reason);
                report.field("metrics", Map::new());
                report.print(Format::Json)?;
            } else {
                say(format!("CREDITS UNKNOWN - {reason}"));
            }
            note(format!("error: {error}"));
            for cause in error.chain().skip(1) {
                note(format!("  caused by: {cause}"));
            }
        }
    }
    Ok(state.code())
}
