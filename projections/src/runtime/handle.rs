//! Handling what the broker hands over: a batch of consecutive messages of one queue, applied
//! in one atomic write, with retries, and with a poison event isolated and parked alone
//! (docs/projection-batches.md).
//!
//! **Invariants.**
//! - Events of a stopped stream (one with a parked event) are parked behind it, unapplied
//!   (`parking.rs`); the rest of the batch is applied in one atomic write (`apply.rs`).
//! - A transient failure ([`RuntimeError::is_transient`]: a dependency away, the model's lease
//!   held by a rebuild) retries the batch whole, `max_attempts` times `retry_delay` apart, then
//!   answers "retry later": the broker offers the whole batch again and the queue waits; nothing
//!   is parked.
//! - Any other failure of a batch of several events does not say which event is to blame: the
//!   batch is then handled again one event at a time, in order, each with its own retries. So a
//!   poison event is tried `max_attempts` times and parked alone; the events before it applied,
//!   the later events of its stream park behind it, and every other stream's events apply.
//! - A Redis model whose data is gone ([`RuntimeError::ReadModelLost`]) is rebuilt from the log
//!   (under its exclusive lease, by whichever replica gets there first), then the batch is
//!   applied again.
//! - The consumer acknowledges a batch only when every event of it was applied, recognized as a
//!   duplicate, or parked; otherwise the whole batch comes again, and what was applied of it is
//!   then recognized as duplicates.

use event_store::RecordedEvent;
use futures::future::BoxFuture;
use rocketmq::{ConsumeOutcome, ReceivedMessage, decode_event};
use tracing::Instrument;

use super::generations::Target;
use super::parking::{BEHIND, NewParked};
use super::{Applied, ProjectionRuntime, RuntimeError};
use crate::Projection;

/// What the handler did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Applied, or recognized as a duplicate.
    Applied(Applied),
    /// Parked (after its retries, or behind an earlier parked event of its stream).
    Parked,
    /// Neither applied nor parked (a dependency is down): offer it again later.
    RetryLater,
}

impl From<Handled> for ConsumeOutcome {
    fn from(handled: Handled) -> Self {
        match handled {
            Handled::Applied(_) | Handled::Parked => ConsumeOutcome::Done,
            Handled::RetryLater => ConsumeOutcome::RetryLater,
        }
    }
}

impl ProjectionRuntime {
    /// Handles consecutive messages of one queue (the consumer's entry point): decodes them,
    /// parks those that are not events (in their place in the order: what came before them is
    /// handled first), and hands the events to [`ProjectionRuntime::handle_batch`].
    pub async fn handle_messages(
        &self,
        projection: &Projection,
        messages: &[ReceivedMessage],
    ) -> ConsumeOutcome {
        let mut segment: Vec<RecordedEvent> = Vec::with_capacity(messages.len());
        for message in messages {
            match decode_event(message) {
                Ok(event) => segment.push(event),
                Err(error) => {
                    if !self.handle_all(projection, &segment).await {
                        return ConsumeOutcome::RetryLater;
                    }
                    segment.clear();
                    let parked = self
                        .park_undecodable(projection.name(), message, &error)
                        .await;
                    if parked == Handled::RetryLater {
                        return ConsumeOutcome::RetryLater;
                    }
                }
            }
        }
        if self.handle_all(projection, &segment).await {
            ConsumeOutcome::Done
        } else {
            ConsumeOutcome::RetryLater
        }
    }

    /// Handles one consumed message: decodes it (an undecodable one is parked) and hands the
    /// event to [`ProjectionRuntime::handle`].
    pub async fn handle_message(
        &self,
        projection: &Projection,
        message: &ReceivedMessage,
    ) -> Handled {
        match decode_event(message) {
            Ok(event) => self.handle(projection, &event).await,
            Err(error) => {
                self.park_undecodable(projection.name(), message, &error)
                    .await
            }
        }
    }

    /// Applies `event` with retries; parks it when it keeps failing or when its stream is
    /// stopped (module docs).
    pub async fn handle(&self, projection: &Projection, event: &RecordedEvent) -> Handled {
        self.handle_batch(projection, &[event]).await[0]
    }

    /// Applies `events` in one atomic write, with retries, parking and isolation of a poison
    /// event (module docs); returns what happened to each, in input order.
    pub async fn handle_batch(
        &self,
        projection: &Projection,
        events: &[&RecordedEvent],
    ) -> Vec<Handled> {
        self.handle_batch_with(projection, events, Target::Live)
            .await
    }

    /// Whether every one of `events` was applied, recognized as a duplicate, or parked.
    async fn handle_all(&self, projection: &Projection, events: &[RecordedEvent]) -> bool {
        if events.is_empty() {
            return true;
        }
        let events: Vec<&RecordedEvent> = events.iter().collect();
        !self
            .handle_batch(projection, &events)
            .await
            .contains(&Handled::RetryLater)
    }

    /// [`ProjectionRuntime::handle_batch`] into `target`. Boxed: it may rebuild the model, and a
    /// rebuild handles batches itself (the box breaks that cycle of futures).
    pub(super) fn handle_batch_with<'a>(
        &'a self,
        projection: &'a Projection,
        events: &'a [&'a RecordedEvent],
        target: Target,
    ) -> BoxFuture<'a, Vec<Handled>> {
        let span = tracing::info_span!(
            "handle_batch",
            projection = projection.name(),
            events = events.len()
        );
        Box::pin(
            self.retry_batch(projection, events, target)
                .instrument(span),
        )
    }

    async fn retry_batch(
        &self,
        projection: &Projection,
        events: &[&RecordedEvent],
        target: Target,
    ) -> Vec<Handled> {
        let parking = target.parking(projection.name());
        let name = parking.as_str();
        let mut handled: Vec<Option<Handled>> = vec![None; events.len()];
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self
                .try_batch(projection, events, target, &mut handled)
                .await
            {
                Ok(()) => break,
                Err(error) => error,
            };
            let pending: Vec<usize> = (0..events.len())
                .filter(|index| handled[*index].is_none())
                .collect();
            let last = attempt >= self.policy.max_attempts;
            if let RuntimeError::ReadModelLost { .. } = error {
                tracing::warn!(%error, "read model lost while running");
                if let Err(error) = self.ensure_built(projection).await {
                    tracing::warn!(%error, "could not rebuild the lost read model yet");
                }
                if last {
                    break;
                }
                continue;
            } else if error.is_transient() {
                tracing::warn!(%error, attempt, "dependency unavailable");
                if last {
                    break;
                }
            } else if pending.len() > 1 {
                tracing::warn!(%error, events = pending.len(), "batch failed; handling its events one by one");
                for index in pending {
                    let one = self
                        .handle_batch_with(projection, &[events[index]], target)
                        .await;
                    handled[index] = Some(one[0]);
                }
                break;
            } else if last {
                let Some(&index) = pending.first() else {
                    break;
                };
                tracing::error!(%error, attempt, stream = %events[index].stream_id, version = events[index].version, "parking an event that keeps failing");
                let row = NewParked::of(events[index], &error.to_string(), attempt);
                handled[index] = Some(self.park_or_wait(name, row).await);
                break;
            } else {
                tracing::warn!(%error, attempt, "apply failed; will retry");
            }
            tokio::time::sleep(self.policy.retry_delay).await;
        }
        handled
            .into_iter()
            .map(|each| each.unwrap_or(Handled::RetryLater))
            .collect()
    }

    /// One try: parks the not yet handled events of stopped streams behind their parked event,
    /// and applies the rest in one atomic write, filling in `handled`.
    async fn try_batch(
        &self,
        projection: &Projection,
        events: &[&RecordedEvent],
        target: Target,
        handled: &mut [Option<Handled>],
    ) -> Result<(), RuntimeError> {
        let parking = target.parking(projection.name());
        let name = parking.as_str();
        let mut streams: Vec<&str> = events
            .iter()
            .zip(handled.iter())
            .filter(|(_, done)| done.is_none())
            .map(|(event, _)| event.stream_id.as_str())
            .collect();
        streams.sort_unstable();
        streams.dedup();
        let stopped = self.stopped_streams(name, &streams).await?;
        let mut rest: Vec<usize> = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            if handled[index].is_some() {
                continue;
            }
            if stopped.contains(event.stream_id.as_str()) {
                let parked = self
                    .park_or_wait(name, NewParked::of(event, BEHIND, 0))
                    .await;
                if parked == Handled::Parked {
                    handled[index] = Some(parked);
                }
            } else {
                rest.push(index);
            }
        }
        let batch: Vec<&RecordedEvent> = rest.iter().map(|index| events[*index]).collect();
        let applied = self.apply_batch_with(projection, &batch, target).await?;
        for (index, applied) in rest.into_iter().zip(applied) {
            handled[index] = Some(Handled::Applied(applied));
        }
        Ok(())
    }
}
