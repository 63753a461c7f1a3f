//! Writing the checkpoint behind publishing: the pump reports each new end of the acknowledged
//! prefix; a task of its own stores the latest one it has (coalescing), retrying failures with
//! backoff while publishing goes on (docs/relay-pipeline.md).
//!
//! # Invariant
//!
//! The task stores only values reported through [`Checkpointer::acknowledged`], so the stored
//! checkpoint is never past an unacknowledged event. Reports only move forward; the task never
//! stores a value at or below one it stored already. [`Checkpointer::finish`] stores the last
//! reported value if it is not stored yet (best effort: a few attempts within a deadline).

use std::time::Duration;

use event_store::AllPosition;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::{Backoff, CheckpointStore, error_chain};
use crate::metrics::RelayMetrics;

/// Attempts at storing the last value once [`Checkpointer::finish`] was called.
const FINAL_ATTEMPTS: u32 = 3;

/// The stored checkpoint, retried until it can be read.
pub async fn load_checkpoint<C: CheckpointStore>(store: &mut C, backoff: Backoff) -> AllPosition {
    let mut failures = 0;
    loop {
        match store.load().await {
            Ok(at) => return at,
            Err(error) => {
                failures += 1;
                warn!(error = %error_chain(&error), failures, "reading the checkpoint failed; retrying");
                tokio::time::sleep(backoff.delay(failures)).await;
            }
        }
    }
}

/// The handle of the checkpoint writer task. Dropped without [`Checkpointer::finish`], the task
/// still makes its few final attempts, with no deadline.
#[derive(Debug)]
pub struct Checkpointer {
    latest: watch::Sender<AllPosition>,
    task: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the writer task over `store`, whose checkpoint is `stored` now.
    pub fn start<C>(store: C, stored: AllPosition, backoff: Backoff, metrics: RelayMetrics) -> Self
    where
        C: CheckpointStore + 'static,
    {
        let (latest, reports) = watch::channel(stored);
        let task = tokio::spawn(write_behind(store, stored, reports, backoff, metrics));
        Self { latest, task }
    }

    /// Every event up to `at` (in `$all` order) is acknowledged: `at` may be stored. Never
    /// waits; a value not past the latest report is ignored.
    pub fn acknowledged(&self, at: AllPosition) {
        self.latest.send_if_modified(|latest| {
            let newer = at > *latest;
            if newer {
                *latest = at;
            }
            newer
        });
    }

    /// The latest reported value (or the checkpoint the writer started from).
    pub fn latest(&self) -> AllPosition {
        *self.latest.borrow()
    }

    /// Stores the latest reported value unless it is stored already, then ends the task: a few
    /// attempts, for at most `within`. Call it once publishing has stopped.
    pub async fn finish(self, within: Duration) {
        let Self { latest, mut task } = self;
        let last = *latest.borrow();
        // Dropping the sender tells the task to store what it has and end.
        drop(latest);
        match tokio::time::timeout(within, &mut task).await {
            Ok(Ok(())) => {}
            // A panic of the writer is a bug: surface it rather than lose it in the task.
            Ok(Err(error)) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Ok(Err(_)) => {}
            Err(_) => {
                warn!(checkpoint = %last, ?within, "storing the last checkpoint did not finish in time; abandoned");
                task.abort();
            }
        }
    }
}

/// Stores the latest report whenever it is past what was stored, until the sender is gone and
/// the last report is stored (or given up on).
async fn write_behind<C: CheckpointStore>(
    mut store: C,
    mut stored: AllPosition,
    mut reports: watch::Receiver<AllPosition>,
    backoff: Backoff,
    metrics: RelayMetrics,
) {
    let mut failures = 0;
    // Attempts left once the handle is gone.
    let mut final_attempts = FINAL_ATTEMPTS;
    loop {
        let closed = reports.has_changed().is_err();
        let target = *reports.borrow_and_update();
        if target <= stored {
            if closed || reports.changed().await.is_err() {
                return;
            }
            continue;
        }
        match store.store(target).await {
            Ok(()) => {
                stored = target;
                failures = 0;
                metrics
                    .checkpoint_position
                    .set(i64::try_from(target.position).unwrap_or(i64::MAX));
                debug!(checkpoint = %target, "checkpoint stored");
            }
            Err(error) => {
                failures += 1;
                metrics.checkpoint_write_failures.inc();
                let pause = backoff.delay(failures);
                warn!(error = %error_chain(&error), failures, ?pause, checkpoint = %target, "storing the checkpoint failed; retrying");
                if reports.has_changed().is_err() {
                    final_attempts -= 1;
                    if final_attempts == 0 {
                        return;
                    }
                }
                // Publishing goes on meanwhile; the next attempt stores the newest report.
                tokio::time::sleep(pause).await;
            }
        }
    }
}
