//! One step of the relay: publish a batch of events, then checkpoint it.
//!
//! # Invariant
//!
//! Given batches taken from the `$all` subscription in order, starting right after the stored
//! checkpoint:
//!
//! 1. **At least once, nothing skipped.** A batch is offered to the [`Publisher`] whole, again
//!    and again (exponential backoff with jitter, `retry_initial_ms` up to `retry_max_ms`), until
//!    the publisher reports every event of it acknowledged. There is no give-up path: the only
//!    way out of a failing batch is the relay stopping (leadership lost, shutdown), after which
//!    the next active relay resumes from the stored checkpoint.
//! 2. **Log order per stream.** Batches are published one after another in `$all` order, and
//!    the publisher keeps the batch's order within every queue; all events of a stream share one
//!    queue. A retry re-sends the *same* batch from its start, so a consumer may see an event
//!    again, but only as a repeat of a version it has already seen, never out of order.
//! 3. **Checkpoint ≤ acknowledged.** The checkpoint is written only after the whole batch was
//!    acknowledged, and it is the batch's last `(tx_id, position)`. A crash at any point leaves a
//!    checkpoint at or before the first unacknowledged event: a restart re-sends, never skips.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use event_store::{AllPosition, RecordedEvent};
use tracing::{instrument, warn};

use crate::metrics::RelayMetrics;

/// Publishes a batch of events, in order, acknowledged as a whole.
pub trait Publisher: Send {
    /// Why a publish failed; the batch is retried whole.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Publishes `events` (in `$all` order). `Ok` only if every event was acknowledged.
    fn publish(
        &mut self,
        events: &[RecordedEvent],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Where the relay keeps its checkpoint.
pub trait CheckpointStore: Send {
    /// Why loading or storing failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The stored checkpoint ([`AllPosition::START`] when none).
    fn load(&mut self) -> impl Future<Output = Result<AllPosition, Self::Error>> + Send;

    /// Stores `at`, the last event of an acknowledged batch.
    fn store(&mut self, at: AllPosition) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Exponential backoff between retries, with up to 50 % random jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Pause after the first failure.
    pub initial: Duration,
    /// Longest pause.
    pub max: Duration,
}

impl Backoff {
    /// The pause after the `failures`-th failure in a row (from 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(20);
        let base = self.initial.saturating_mul(1 << exponent).min(self.max);
        // Jitter spreads the retries of replicas and queues; a fresh RandomState is random.
        let random = RandomState::new().build_hasher().finish();
        let jitter = base.mul_f64((random % 1_000) as f64 / 2_000.0);
        base.saturating_sub(jitter).max(Duration::from_millis(1))
    }
}

/// Publishes batches and checkpoints them, keeping the invariant of this module.
pub struct Pump<P, C> {
    publisher: P,
    checkpoints: C,
    backoff: Backoff,
    metrics: RelayMetrics,
}

impl<P: Publisher, C: CheckpointStore> Pump<P, C> {
    /// A pump over `publisher` and `checkpoints` that reports into `metrics`.
    pub fn new(publisher: P, checkpoints: C, backoff: Backoff, metrics: RelayMetrics) -> Self {
        Self {
            publisher,
            checkpoints,
            backoff,
            metrics,
        }
    }

    /// The stored checkpoint, retried until it can be read.
    pub async fn load_checkpoint(&mut self) -> AllPosition {
        let mut failures = 0;
        loop {
            match self.checkpoints.load().await {
                Ok(at) => return at,
                Err(error) => {
                    failures += 1;
                    warn!(%error, failures, "reading the checkpoint failed; retrying");
                    tokio::time::sleep(self.backoff.delay(failures)).await;
                }
            }
        }
    }

    /// Publishes `batch` until acknowledged, then stores its last position as the checkpoint;
    /// returns that position. Never returns before both happened (see the module invariant):
    /// stop it by dropping the future.
    #[instrument(
        name = "relay_batch",
        skip_all,
        fields(
            events = batch.len(),
            first = %batch.first().map(RecordedEvent::all_position).unwrap_or_default(),
            last = %batch.last().map(RecordedEvent::all_position).unwrap_or_default(),
        )
    )]
    pub async fn process(&mut self, batch: &[RecordedEvent]) -> Option<AllPosition> {
        let last = batch.last()?;
        let mut failures = 0;
        while let Err(error) = self.publisher.publish(batch).await {
            failures += 1;
            self.metrics.send_failures.inc();
            let pause = self.backoff.delay(failures);
            warn!(error = %error_chain(&error), failures, ?pause, "publishing failed; retrying the same batch");
            tokio::time::sleep(pause).await;
        }
        self.metrics.published_events.inc_by(batch.len() as u64);
        self.metrics.batches.inc();
        let lag = chrono::Utc::now() - last.recorded_at;
        self.metrics.lag_ms.set(lag.num_milliseconds().max(0));

        let at = last.all_position();
        let mut failures = 0;
        while let Err(error) = self.checkpoints.store(at).await {
            // The batch is acknowledged; only the checkpoint is late. Retrying the write (not the
            // publish) keeps the checkpoint ≤ acknowledged.
            failures += 1;
            warn!(error = %error_chain(&error), failures, "storing the checkpoint failed; retrying");
            tokio::time::sleep(self.backoff.delay(failures)).await;
        }
        self.metrics
            .checkpoint_position
            .set(i64::try_from(at.position).unwrap_or(i64::MAX));
        tracing::debug!(checkpoint = %at, "batch published");
        Some(at)
    }

    /// The publisher and the checkpoint store back.
    pub fn into_parts(self) -> (P, C) {
        (self.publisher, self.checkpoints)
    }
}

/// `error` and its sources, `: `-separated, for one log field.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Milliseconds since `since`, for gauges.
pub(crate) fn millis_since(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
