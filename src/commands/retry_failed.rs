//! `credits retry-failed`: credit the failed (and, with `--include-pending`,
//! stuck pending) recharges of a window that have evidence of payment, or
//! whose payment intent the operator attests with `--paid`/`--paid-file`,
//! through the one crediting path (`credits_ops.retry_recharges`, on which
//! the runbook's `retry_failed_payments()` also runs). The plan, the
//! batches and the report are `repair::retry`'s.

use anyhow::Result;
use serde_json::Map;

use crate::cli::{Format, RetryFailedArgs};
use crate::confirm::confirm;
use crate::db::Db;
use crate::exit::Code;
use crate::interrupt;
use crate::output::note;
use crate::repair::RetryTerms;
use crate::repair::batches::Run;
use crate::repair::retry::{self, Reading, Retry, Window};

pub fn run(db: &mut Db, args: &RetryFailedArgs, format: Format) -> Result<Code> {
    // A bad --paid or --paid-file is a usage error before anything is read.
    let attested = retry::attested(&args.paid, args.paid_file.as_deref())?;
    db.profile()?.require_writable()?;
    let window = Window {
        since_text: &args.window.since.text,
        include_pending: args.include_pending,
    };
    let terms = RetryTerms {
        since: args.window.since.at,
        include_pending: args.include_pending,
        stuck_after: args.window.stuck_after,
        attestations: Map::new(),
        trust_app_evidence: args.trust_app_evidence,
    };
    let dry_run = args.write.dry_run;
    let reading = Reading {
        rescan: args.facts.rescan,
        fold: !dry_run && !args.facts.rescan,
        pages: args.batches.sizing(),
    };
    let mut retry = Retry::plan(
        db,
        terms,
        attested,
        &args.stripe,
        &args.write.operator,
        &reading,
    )?;
    let to_credit = retry.to_credit().len();
    retry.tell(&window, !dry_run && to_credit > 0);

    let (outcomes, run) = if dry_run || to_credit == 0 {
        note(if dry_run {
            format!("dry run: {to_credit} recharge(s) would be credited; nothing was written")
        } else {
            "nothing to credit: no failed or stuck recharge in the window has evidence of payment or an attestation".to_string()
        });
        (std::mem::take(&mut retry.plan), Run::default())
    } else {
        confirm(
            &args.write,
            &db.target,
            &format!("credit {to_credit} failed or stuck recharge(s)"),
        )?;
        interrupt::listen();
        retry.apply(db, args.batches.sizing(), &args.write.audit("retry-failed"))?
    };
    let shown = if args.all { usize::MAX } else { args.limit };
    let hidden = retry.print_report(
        db.target.to_string(),
        (&outcomes, &run),
        &window,
        dry_run,
        format,
        shown,
    )?;
    if hidden > 0 {
        note(format!(
            "{hidden} more recharge(s) not shown: use --all, or --output json"
        ));
    }
    Ok(run.finish(dry_run, "recharge(s)"))
}
