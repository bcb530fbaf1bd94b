//! Ctrl-C during a batched repair: the batch in flight finishes (committed
//! or rolled back whole), then the run stops and says what was done. A
//! second Ctrl-C ends the process at once; the server rolls back the open
//! transaction, so even then nothing is half-written.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Starts listening for Ctrl-C. Called by the commands that work in batches;
/// elsewhere Ctrl-C keeps its usual meaning.
pub fn listen() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        crate::output::note(
            "\nCtrl-C: finishing the batch in flight, then stopping (Ctrl-C again to stop now; \
             the open transaction is then rolled back)...",
        );
    });
}

/// Whether the operator asked to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
