//! The batch runner of the bulk repairs (`bulk-fix`, `retry-failed`): the
//! work is cut into batches, each repaired in one short transaction that is
//! committed (or, in a dry run, rolled back) on its own.
//!
//! - Batches are sized by measured time, not by a fixed count: each
//!   transaction aims at half of `--max-transaction`, so the live webhook
//!   never waits long behind one, whatever the app's indexes and data.
//!   The server holds them to it: a batch of several items that reaches
//!   `--max-transaction` is cancelled there (statement_timeout), rolled
//!   back whole and redone in halves.
//! - Rows someone else holds are skipped, never waited for. The items
//!   skipped are tried again at the end, after short pauses: a CLI killed a
//!   moment ago leaves a server-side ghost holding locks for about a second
//!   (until `client_connection_check_interval` notices), and a rerun must
//!   not trip over it.
//! - A batch that fails for a reason of one item's data is redone item by
//!   item, so one bad row does not hold back the rest.
//! - Ctrl-C lets the batch in flight finish, then stops.
//! - `Sizing::jobs` batches run at once (bulk-fix's `--jobs`), each on a
//!   connection of its own and never two on the same item: a batch's time
//!   is mostly its reads of pages the server has to bring in, so two
//!   connections repair about twice as fast on two cores (bulk-fix at 1M
//!   recharges: 19.97 s with one, 8.85 s with two), and the rows locked at
//!   any moment are still only those of that many short batches. Only
//!   where an item is a user: two batches of recharges may share a user,
//!   and each would find the other holding its balance row.
//!
//! An interrupted or failed run keeps what it committed and loses nothing
//! else; the repairs are idempotent, so a rerun finishes the job.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use postgres::Transaction;

use super::{Action, Outcome};
use crate::db::Db;
use crate::exit::Code;
use crate::interrupt;
use crate::output::{Report, note};
use crate::sql;

/// How a run is cut into transactions.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    /// At most this many items per transaction.
    pub max_items: usize,
    /// The longest transaction the run may keep open; batches aim at half.
    pub max_transaction: Duration,
    /// Batches run at once, each on a connection of its own.
    pub jobs: usize,
}

impl Sizing {
    /// The first transaction's size: small, for the next ones to be sized
    /// by the time it took.
    pub fn first(&self) -> usize {
        self.max_items.clamp(1, 16)
    }

    /// What each transaction aims at: half of `max_transaction`.
    pub fn aim(&self) -> Duration {
        self.max_transaction / 2
    }

    /// The next transaction's size, after one of `size` took `elapsed`:
    /// towards the aim, at most `max_items`.
    pub fn next(&self, size: usize, elapsed: Duration) -> usize {
        next_size(size, elapsed, self.aim(), self.max_items)
    }
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Run {
    /// Batches committed (rolled back, in a dry run): one transaction each,
    /// or more when one was split.
    pub batches: usize,
    /// Items done: repaired, or seen and reported.
    pub done: usize,
    /// Stopped by Ctrl-C before every item was done.
    pub interrupted: bool,
    /// Items whose rows someone else still held at the end.
    pub locked: Vec<String>,
    /// Items that failed on their own data, with the error.
    pub failed: Vec<(String, String)>,
    /// The longest batch, its halves together when it was split.
    pub longest: Duration,
    /// Batches cancelled at `--max-transaction` and redone in halves.
    pub split: usize,
}

impl Run {
    /// The report's fields on the batches: how many ran, the longest, and
    /// how many were cancelled at `--max-transaction` and redone in halves.
    pub fn report(&self, report: &mut Report) {
        report.field("batches", self.batches);
        report.field("longest_batch_ms", self.longest.as_millis() as u64);
        report.field("batches_split", self.split);
    }
}

/// Pauses before trying locked items again: long enough for a killed run's
/// ghost to be stopped by the server, short enough not to stall a run.
const RETRY_PAUSES: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_millis(1500),
    Duration::from_millis(3000),
];

/// What a run is cut into batches of: a user or a recharge, named by its id
/// (in the outcomes, in what is reported locked or failed).
pub trait Item: Clone + Send + Sync {
    fn id(&self) -> &str;
}

impl Item for String {
    fn id(&self) -> &str {
        self
    }
}

/// What one batch did, as a worker reports it to the runner.
struct Batch {
    items: usize,
    elapsed: Duration,
    outcomes: Vec<Outcome>,
    /// Items skipped as locked, sorted, each once.
    skipped: Vec<String>,
    /// Items that failed on their own data (the batch was redone item by item).
    failed: Vec<(String, String)>,
    /// Batches (this one, or its halves) cancelled at the deadline.
    split: usize,
}

/// Runs `repair` over `items` in batches, on `sizing.jobs` connections at
/// once (`db` and as many more to the same database): each worker takes the
/// next batch of the items left, so no two batches share an item, and the
/// repairs lock only their own items' rows. `repair` returns the outcomes of
/// one batch, in its transaction; those of an item skipped as locked are
/// held back and the item retried, the rest go to `sink` as they come (in
/// the order batches end). With `commit` false every batch is rolled back
/// (a dry run). `what` names the items on the progress bar.
pub fn run<T: Item>(
    db: &mut Db,
    items: &[T],
    sizing: Sizing,
    commit: bool,
    what: &str,
    repair: impl Fn(&mut Transaction<'_>, &[T]) -> Result<Vec<Outcome>> + Sync,
    mut sink: impl FnMut(Vec<Outcome>),
) -> Result<Run> {
    let mut more = Vec::new();
    while more.len() + 1 < sizing.jobs.min(items.len()) {
        match db.reconnect() {
            Ok(extra) => more.push(extra),
            Err(error) => {
                note(format!(
                    "running {} job(s), not {}: another connection could not be opened ({error:#})",
                    more.len() + 1,
                    sizing.jobs
                ));
                break;
            }
        }
    }
    let mut connections: Vec<&mut Db> = std::iter::once(db).chain(more.iter_mut()).collect();
    let mut run = Run::default();
    // The first round reads the caller's items; later ones own what was locked.
    let mut pending: Cow<'_, [T]> = Cow::Borrowed(items);
    let progress = progress_bar(items.len() as u64, what);
    // Each round but the last is followed by a pause and a retry of what it
    // found locked.
    for (round, pause) in RETRY_PAUSES.iter().map(Some).chain([None]).enumerate() {
        let last_round = pause.is_none();
        let mut locked = Vec::new();
        let mut stop: Option<anyhow::Error> = None;
        let next = Mutex::new(0usize);
        let halt = AtomicBool::new(false);
        let mut receive = |reported: Result<Batch>| {
            let batch = match reported {
                Ok(batch) => batch,
                Err(error) => {
                    halt.store(true, Ordering::SeqCst);
                    stop.get_or_insert(error);
                    return;
                }
            };
            run.longest = run.longest.max(batch.elapsed);
            run.batches += 1;
            run.done += batch.items - batch.skipped.len();
            run.failed.extend(batch.failed);
            run.split += batch.split;
            progress.set_position(run.done as u64);
            let (skipped, kept): (Vec<Outcome>, Vec<Outcome>) = batch
                .outcomes
                .into_iter()
                .partition(|o| o.action == Action::SkippedLocked);
            sink(kept);
            if last_round {
                sink(skipped);
            }
            locked.extend(batch.skipped);
        };
        if let [only] = connections.as_mut_slice() {
            // One connection: its batches run on this thread. On a worker
            // thread the outcomes kept were allocated in a malloc arena of
            // its own, beside the plan's freed rows: retry-failed at 10M
            // peaked at 58.5 MB that way, 45.8 MB in one arena.
            let mut report = |batch| {
                receive(batch);
                true
            };
            work(
                only,
                &pending,
                &next,
                &halt,
                sizing,
                commit,
                &repair,
                &mut report,
            );
        } else {
            let (report, reports) = mpsc::channel::<Result<Batch>>();
            std::thread::scope(|scope| {
                for connection in connections.iter_mut() {
                    let report = report.clone();
                    let (pending, next, halt, repair) = (&pending, &next, &halt, &repair);
                    scope.spawn(move || {
                        let mut send = |batch| report.send(batch).is_ok();
                        work(
                            connection, pending, next, halt, sizing, commit, repair, &mut send,
                        )
                    });
                }
                drop(report);
                reports.into_iter().for_each(&mut receive);
            });
        }
        if let Some(error) = stop {
            progress.finish_and_clear();
            return Err(stopped(error, &run, commit));
        }
        let taken = *next.lock().unwrap_or_else(|e| e.into_inner());
        let more_to_do = taken < pending.len() || (!locked.is_empty() && !last_round);
        if interrupt::requested() && more_to_do {
            progress.finish_and_clear();
            run.interrupted = true;
            // After the first round, what is left was found locked before.
            if round > 0 {
                run.locked
                    .extend(pending[taken..].iter().map(|i| i.id().to_owned()));
            }
            run.locked.extend(locked);
            return Ok(run);
        }
        if locked.is_empty() || last_round {
            progress.finish_and_clear();
            locked.sort();
            run.locked = locked;
            return Ok(run);
        }
        if let Some(pause) = pause {
            std::thread::sleep(*pause);
        }
        locked.sort();
        pending = Cow::Owned(
            pending
                .iter()
                .filter(|i| locked.binary_search_by(|l| l.as_str().cmp(i.id())).is_ok())
                .cloned()
                .collect(),
        );
    }
    Ok(run)
}

/// One worker: takes the next batch of `pending` until none is left, Ctrl-C
/// is pressed or another worker stopped the run (`halt`), each batch sized
/// by its own measured time, and reports each (`report` false: stop).
#[allow(clippy::too_many_arguments)]
fn work<T: Item>(
    db: &mut Db,
    pending: &[T],
    next: &Mutex<usize>,
    halt: &AtomicBool,
    sizing: Sizing,
    commit: bool,
    repair: &(impl Fn(&mut Transaction<'_>, &[T]) -> Result<Vec<Outcome>> + Sync),
    report: &mut impl FnMut(Result<Batch>) -> bool,
) {
    let mut size = sizing.first();
    loop {
        if interrupt::requested() || halt.load(Ordering::SeqCst) {
            return;
        }
        let batch = {
            let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
            let start = *next;
            *next = (start + size).min(pending.len());
            &pending[start..*next]
        };
        if batch.is_empty() {
            return;
        }
        let done = one_batch(db, commit, batch, sizing.max_transaction, repair);
        let stop = done.is_err();
        if let Ok(batch) = &done {
            size = sizing.next(size, batch.elapsed);
        }
        if !report(done) || stop {
            return;
        }
    }
}

/// One batch: in one transaction held to `deadline`, redone in halves when
/// it reaches it, and item by item when it fails for a reason of one item's
/// data, so one bad row does not hold back the rest.
fn one_batch<T: Item>(
    db: &mut Db,
    commit: bool,
    batch: &[T],
    deadline: Duration,
    repair: &impl Fn(&mut Transaction<'_>, &[T]) -> Result<Vec<Outcome>>,
) -> Result<Batch> {
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut split = 0;
    let outcomes = within(db, commit, batch, deadline, repair, &mut split, &mut failed)?;
    let mut skipped: Vec<String> = outcomes
        .iter()
        .filter(|o| o.action == Action::SkippedLocked)
        .map(|o| item_of(o, batch))
        .collect();
    skipped.sort();
    skipped.dedup();
    Ok(Batch {
        items: batch.len(),
        elapsed: started.elapsed(),
        outcomes,
        skipped,
        failed,
        split,
    })
}

/// `batch` in one transaction, cancelled at `deadline` when it holds more
/// than one item (one item has the session's limit). Cancelled, it is redone
/// in two halves (`split` counts it); failed on an item's data, item by item
/// (`failed` gets the items that fail alone). Each transaction commits on
/// its own: an error returned leaves those before it committed.
fn within<T: Item>(
    db: &mut Db,
    commit: bool,
    batch: &[T],
    deadline: Duration,
    repair: &impl Fn(&mut Transaction<'_>, &[T]) -> Result<Vec<Outcome>>,
    split: &mut usize,
    failed: &mut Vec<(String, String)>,
) -> Result<Vec<Outcome>> {
    let several = batch.len() > 1;
    // Never above the session's own limit (--statement-timeout).
    let deadline = deadline.min(db.statement_timeout);
    let started = Instant::now();
    match in_transaction(db, commit, batch, several.then_some(deadline), repair) {
        // Cancelled at the deadline, not by a person (pg_cancel_backend
        // stops the run, as it did before batches had a deadline).
        Err(error) if several && is_cancelled(&error) && started.elapsed() >= deadline => {
            *split += 1;
            let (first, second) = batch.split_at(batch.len() / 2);
            let mut outcomes = within(db, commit, first, deadline, repair, split, failed)?;
            outcomes.extend(within(db, commit, second, deadline, repair, split, failed)?);
            Ok(outcomes)
        }
        Err(error) if is_data_error(&error) => {
            let [item] = batch else {
                let mut outcomes = Vec::new();
                for item in batch {
                    let one = std::slice::from_ref(item);
                    outcomes.extend(within(db, commit, one, deadline, repair, split, failed)?);
                }
                return Ok(outcomes);
            };
            failed.push((item.id().to_owned(), format!("{error:#}")));
            Ok(Vec::new())
        }
        done => done,
    }
}

impl Run {
    /// Says on stderr what a person must know of how the run ended, and the
    /// exit code: partial (5) when it was interrupted or left items behind.
    pub fn finish(&self, dry_run: bool, items: &str) -> Code {
        if self.interrupted {
            note(format!(
                "interrupted: {} batch(es) were {} ({} {items} done); nothing of the others was touched. \
                 Run the same command again to finish: nothing is doubled.",
                self.batches,
                if dry_run { "planned" } else { "committed" },
                self.done
            ));
            Code::Partial
        } else if self.locked.is_empty() && self.failed.is_empty() {
            Code::Ok
        } else {
            note(format!(
                "{} {items} skipped (rows locked by another session) and {} failed; \
                 run the same command again for them",
                self.locked.len(),
                self.failed.len()
            ));
            Code::Partial
        }
    }
}

/// A progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {what} {{elapsed}} (eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// The item a skipped outcome stands for: the recharge in a batch of
/// recharges, else its user.
fn item_of<T: Item>(outcome: &Outcome, batch: &[T]) -> String {
    match &outcome.recharge_id {
        Some(recharge) if batch.iter().any(|i| i.id() == recharge) => recharge.clone(),
        _ => outcome.user_id.clone(),
    }
}

fn in_transaction<T: Item>(
    db: &mut Db,
    commit: bool,
    batch: &[T],
    deadline: Option<Duration>,
    repair: &impl Fn(&mut Transaction<'_>, &[T]) -> Result<Vec<Outcome>>,
) -> Result<Vec<Outcome>> {
    let mut tx = db.transaction()?;
    if let Some(deadline) = deadline {
        let ms = deadline.as_millis().max(1).to_string();
        tx.execute(sql::SESSION_BATCH_DEADLINE, &[&ms])
            .context("setting the batch's deadline (sql/session/batch_deadline.sql)")?;
    }
    let outcomes = repair(&mut tx, batch)?;
    if commit {
        tx.commit()
            .context("committing a batch; nothing of that batch was changed")?;
    } else {
        tx.rollback()?;
    }
    Ok(outcomes)
}

/// The next batch's size: scaled towards the target time, at most doubling
/// or halving at a step, within 1..=max.
fn next_size(size: usize, elapsed: Duration, target: Duration, max: usize) -> usize {
    let ratio = target.as_secs_f64() / elapsed.as_secs_f64().max(1e-4);
    let scaled = (size as f64 * ratio.clamp(0.5, 2.0)).round() as usize;
    scaled.clamp(1, max.max(1))
}

/// What stopped the run, with what was done before it.
fn stopped(error: anyhow::Error, run: &Run, commit: bool) -> anyhow::Error {
    if commit {
        error.context(format!(
            "a batch stopped the run: at least {} item(s) were repaired and committed before it in {} batch(es), \
             nothing of the transaction that failed was; run the same command again to finish \
             (nothing is doubled)",
            run.done, run.batches
        ))
    } else {
        error.context("planning the repair; nothing was written")
    }
}

/// A statement cancelled on the server (statement_timeout, or by hand).
fn is_cancelled(error: &anyhow::Error) -> bool {
    sql_state(error).is_some_and(|code| code == "57014")
}

fn sql_state(error: &anyhow::Error) -> Option<&str> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<postgres::Error>())
        .and_then(|e| e.code())
        .map(|code| code.code())
}

/// An error about the data of an item (a constraint, a trigger of the app,
/// a lock wait that timed out), as opposed to the connection or the server.
fn is_data_error(error: &anyhow::Error) -> bool {
    sql_state(error).is_some_and(|code| {
        // 22 data exception, 23 integrity, 40 deadlock or serialization
        // (retried item by item), 55 lock not available, P0 raised in PL/pgSQL
        matches!(&code[..2], "22" | "23" | "40" | "55" | "P0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_when_fast_and_shrink_when_slow_within_bounds() {
        let target = Duration::from_millis(100);
        assert_eq!(next_size(16, Duration::from_millis(10), target, 1000), 32);
        assert_eq!(next_size(16, Duration::from_millis(400), target, 1000), 8);
        assert_eq!(next_size(16, Duration::from_millis(100), target, 1000), 16);
        assert_eq!(next_size(800, Duration::from_millis(1), target, 1000), 1000);
        assert_eq!(next_size(1, Duration::from_secs(5), target, 1000), 1);
    }
}
