//! Following `$all` live: catch up from a checkpoint, then wait for new events.
//!
//! # Why `(tx_id, position)` and a watermark
//! Positions come from a sequence and are taken before commit, so they do not commit in order:
//! while the transaction holding position 7 is still open, position 8 may already be visible. A
//! reader that remembers "position 8 done" and asks for `position > 8` skips 7 forever.
//!
//! Every event row carries the id of the transaction that wrote it. `pg_snapshot_xmin` of the
//! current snapshot is the oldest transaction id still running; every transaction below it has
//! committed or aborted, so the set of visible rows with `tx_id < xmin` can never grow again.
//!
//! **Invariant:** the tailer delivers exactly the rows with `tx_id < xmin`, in `(tx_id, position)`
//! order, each once, and checkpoints the pair of the last one delivered. A row appearing later
//! always has a `tx_id` at or above the watermark of every earlier read, hence sorts after the
//! checkpoint: nothing is skipped. A rolled-back transaction leaves no rows and, once ended, no
//! longer holds the watermark: nothing stalls on it. Per-stream order is kept because an append
//! gets its transaction id after reading the stream's version (see `append.rs`).
//!
//! The price: the watermark is server-wide, so any long write transaction in any database of the
//! server holds every tailer back. Pools set `idle_in_transaction_session_timeout`, and the
//! subscription reports how long it has been held back and by which transaction.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    sync::{Notify, mpsc, oneshot, watch},
    task::JoinHandle,
};
use tracing::{instrument, warn};

use crate::{AllPosition, EventStore, RecordedEvent, StoreError, notify::CHANNEL};

/// Where a subscription stands, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TailStatus {
    /// The last event handed to the channel.
    pub checkpoint: AllPosition,
    /// Whether the last read returned less than a full page.
    pub caught_up: bool,
    /// Set while committed events exist beyond the checkpoint that the watermark keeps back:
    /// the blocking transaction id and since when.
    pub held_back_by: Option<(u64, Instant)>,
}

/// A live `$all` subscription. Dropping it stops the background task.
pub struct Subscription {
    events: mpsc::Receiver<Result<RecordedEvent, StoreError>>,
    status: watch::Receiver<TailStatus>,
    task: JoinHandle<()>,
    listener: JoinHandle<()>,
}

impl Subscription {
    /// The next event in `$all` order; waits for it. `None` once the subscription has stopped
    /// after reporting an error.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        self.events.recv().await
    }

    /// The current status (checkpoint, caught up, held back).
    pub fn status(&self) -> TailStatus {
        *self.status.borrow()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
        self.listener.abort();
    }
}

/// How far ahead of the consumer the subscription reads.
const BUFFER: usize = 1_024;
/// Log a warning when held back longer than this.
const HELD_BACK_WARNING: Duration = Duration::from_secs(5);

impl EventStore {
    /// Follows `$all` strictly after `from` (use [`AllPosition::START`] for everything): first the
    /// backlog, then new events as they commit. Wakes on `LISTEN`/`NOTIFY` and polls at the
    /// configured fallback interval when nothing arrives.
    pub async fn subscribe_all(&self, from: AllPosition) -> Result<Subscription, StoreError> {
        let wake = Arc::new(Notify::new());
        let (listening_tx, listening_rx) = oneshot::channel();
        let listener = tokio::spawn(listen(self.pool().clone(), Arc::clone(&wake), listening_tx));
        // Listen before the first read so that no notification falls between the two.
        let _ = listening_rx.await;
        let (events_tx, events) = mpsc::channel(BUFFER);
        let (status_tx, status) = watch::channel(TailStatus {
            checkpoint: from,
            ..TailStatus::default()
        });
        let task = tokio::spawn(tail(self.clone(), from, wake, events_tx, status_tx));
        Ok(Subscription {
            events,
            status,
            task,
            listener,
        })
    }
}

/// Turns notifications into wake-ups. Reconnects on its own (sqlx's listener does).
async fn listen(pool: PgPool, wake: Arc<Notify>, listening: oneshot::Sender<()>) {
    let mut listening = Some(listening);
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(err) => {
                warn!(error = %err, "cannot listen for appends; polling only");
                if let Some(tx) = listening.take() {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            warn!(error = %err, "LISTEN failed; polling only");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if let Some(tx) = listening.take() {
            let _ = tx.send(());
        }
        loop {
            match listener.recv().await {
                Ok(_) => wake.notify_one(),
                Err(err) => {
                    warn!(error = %err, "append listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

#[instrument(name = "tail_all", skip_all, fields(from = %from))]
async fn tail(
    store: EventStore,
    from: AllPosition,
    wake: Arc<Notify>,
    events: mpsc::Sender<Result<RecordedEvent, StoreError>>,
    status: watch::Sender<TailStatus>,
) {
    let page = store.tail_batch_size();
    let fallback = store.tail_fallback_poll();
    let mut checkpoint = from;
    let mut held_back: Option<(u64, Instant)> = None;
    let mut failures = 0u32;
    loop {
        let slice = match store.read_all(checkpoint, page).await {
            Ok(slice) => {
                failures = 0;
                slice
            }
            Err(err) if err.is_transient() && failures < 10 => {
                failures += 1;
                warn!(error = %err, failures, "reading $all failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(failures))).await;
                continue;
            }
            Err(err) => {
                let _ = events.send(Err(err)).await;
                return;
            }
        };
        let full = slice.events.len() >= page;
        for event in slice.events {
            let position = event.all_position();
            if events.send(Ok(event)).await.is_err() {
                return; // the subscriber went away
            }
            checkpoint = position;
        }
        if full {
            status.send_modify(|s| {
                s.checkpoint = checkpoint;
                s.caught_up = false;
            });
            continue;
        }
        held_back = match (slice.held_back, held_back) {
            (false, _) => None,
            (true, Some((xid, since))) if xid == slice.watermark => Some((xid, since)),
            (true, _) => Some((slice.watermark, Instant::now())),
        };
        if let Some((xid, since)) = held_back
            && since.elapsed() >= HELD_BACK_WARNING
        {
            warn!(
                xid,
                held_ms = since.elapsed().as_millis() as u64,
                "tailer held back by a long-running transaction"
            );
        }
        status.send_modify(|s| {
            s.checkpoint = checkpoint;
            s.caught_up = true;
            s.held_back_by = held_back;
        });
        // Caught up: wait for an append notification, the fallback poll, or the subscriber
        // leaving. While held back, the blocking transaction's own commit notifies us; if it
        // rolls back, the fallback poll moves on.
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(fallback) => {}
            () = events.closed() => return,
        }
    }
}
