//! `credits demo`: a throwaway PostgreSQL with an incident, and a walk
//! through the commands that diagnose and repair it (`crate::demo`).

use anyhow::Result;

use crate::cli::{DemoArgs, Format};
use crate::demo;
use crate::exit::{Code, fail};

pub fn run(args: &DemoArgs, format: Format) -> Result<Code> {
    if format == Format::Csv {
        return Err(fail(
            Code::Usage,
            "the demo is a walk-through: use --output table or --output json",
        ));
    }
    demo::walk(args, format == Format::Json)?;
    Ok(Code::Ok)
}
