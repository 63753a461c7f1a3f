//! The relay's pipeline: events taken from `$all` go to the broker through one FIFO lane per
//! queue, several lanes in flight at once, while the checkpoint follows the acknowledged prefix,
//! written behind publishing by the [`Checkpointer`] (docs/relay-pipeline.md).
//!
//! # Invariant
//!
//! Events are taken from the `$all` subscription in order, starting right after the stored
//! checkpoint, and numbered in that order.
//!
//! 1. **At least once, nothing skipped.** Every event taken is put in exactly one lane (its
//!    stream's queue: [`Publisher::prepare`]) and stays there until the broker acknowledged it.
//!    A failed send is retried (exponential backoff with jitter, `retry_initial_ms` up to
//!    `retry_max_ms`) from the lane's first unacknowledged event. There is no give-up path: the
//!    only way out is the relay stopping, after which the next active relay resumes from the
//!    stored checkpoint.
//! 2. **Queue order is log order, across batches and retries.** A lane has at most one send in
//!    flight (or one retry pending), and a send carries the lane's oldest unacknowledged events,
//!    in `$all` order. So no event is sent to a queue before every earlier event of that queue
//!    was acknowledged on it. All events of a stream share a queue: a consumer may see an event
//!    again (a retry of a batch the broker had stored after all), never out of order.
//! 3. **Checkpoint ≤ acknowledged prefix.** The pump reports to the [`Checkpointer`] only the
//!    last event of the longest prefix of taken events that is acknowledged entirely; the
//!    checkpointer stores only values it was given (the latest one, coalescing). So the stored
//!    checkpoint never passes an unacknowledged event, and a crash at any point leaves it at or
//!    before the first unacknowledged event: a restart re-sends, never skips.
//! 4. **Bounded.** At most [`Limits::max_pending_events`] events are taken and not yet in the
//!    acknowledged prefix, at most [`Limits::max_sends_in_flight`] sends are in flight (one per
//!    lane), each of at most [`Limits::max_batch_events`] events (and within the publisher's
//!    byte limit). Unbounded concurrent sends fail (ROCKETMQ.md).
//! 5. **Stopping.** Dropping [`Pump::run`]'s future stops publishing: sends in flight are
//!    abandoned and count as unacknowledged. [`Checkpointer::finish`] then stores the last
//!    reported value, best effort.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use event_store::{AllPosition, RecordedEvent};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use tracing::warn;

use crate::metrics::RelayMetrics;

mod checkpointer;
mod lane;

pub use checkpointer::{Checkpointer, load_checkpoint};
use lane::Lane;

/// Sends events to the broker, one lane (queue) at a time.
pub trait Publisher: Sync {
    /// Why preparing or sending failed; retried.
    type Error: std::error::Error + Send + Sync + 'static;
    /// A queue: all events of one stream share one lane.
    type Lane: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static;
    /// An event encoded for sending.
    type Message: Send + Sync + 'static;

    /// Encodes `event` and names its lane. Called in `$all` order, once per event (again only
    /// after a failure).
    fn prepare(
        &self,
        event: &RecordedEvent,
    ) -> impl Future<Output = Result<(Self::Lane, Self::Message), Self::Error>> + Send;

    /// Sends a prefix of `messages` (all of `lane`, oldest first, never empty) as one batch and
    /// returns its length: `Ok(n)` (1 ≤ n ≤ len) only if the broker acknowledged all `n`.
    fn send(
        &self,
        lane: &Self::Lane,
        messages: &[Self::Message],
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}

/// Where the relay keeps its checkpoint.
pub trait CheckpointStore: Send {
    /// Why loading or storing failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The stored checkpoint ([`AllPosition::START`] when none).
    fn load(&mut self) -> impl Future<Output = Result<AllPosition, Self::Error>> + Send;

    /// Stores `at`, the last event of an acknowledged prefix.
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

/// How much the pump holds and sends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most events in one send to one lane.
    pub max_batch_events: usize,
    /// Most events taken and not yet in the acknowledged prefix.
    pub max_pending_events: usize,
    /// Most sends in flight at once (each to another lane).
    pub max_sends_in_flight: usize,
}

impl Limits {
    /// Limits for batches of `batch_size` events: a few batches' worth pending, eight sends in
    /// flight.
    pub fn for_batch_size(batch_size: usize) -> Self {
        let batch_size = batch_size.max(1);
        Self {
            max_batch_events: batch_size,
            max_pending_events: batch_size.saturating_mul(PENDING_BATCHES),
            max_sends_in_flight: MAX_SENDS_IN_FLIGHT,
        }
    }
}

/// Events pending at most, in batches of `relay.batch_size`.
const PENDING_BATCHES: usize = 8;
/// Sends in flight at most across lanes; as many as `send_events` allows (ROCKETMQ.md: unbounded
/// concurrent sends fail).
const MAX_SENDS_IN_FLIGHT: usize = 8;

/// What a lane's future in flight came back with.
enum Outcome<L, M, E> {
    /// A send finished: the messages it took, and how many were acknowledged.
    Sent {
        lane: L,
        batch: Vec<M>,
        result: Result<usize, E>,
    },
    /// A lane's pause after a failure is over.
    RetryDue { lane: L },
}

type InFlight<'a, L, M, E> =
    FuturesUnordered<Pin<Box<dyn Future<Output = Outcome<L, M, E>> + Send + 'a>>>;
type Prepared<L, M> = Vec<(L, M, AllPosition, DateTime<Utc>)>;
type Preparing<'a, L, M> = Pin<Box<dyn Future<Output = Prepared<L, M>> + Send + 'a>>;

/// Publishes events through per-queue lanes and reports the acknowledged prefix, keeping the
/// invariant of this module.
pub struct Pump<P: Publisher> {
    backoff: Backoff,
    limits: Limits,
    metrics: RelayMetrics,
    lanes: HashMap<P::Lane, Lane<P::Message>>,
    /// Lanes with waiting messages and nothing in flight, in the order they became so.
    ready: VecDeque<P::Lane>,
    /// Taken events not yet in the acknowledged prefix: from sequence number `base` on.
    taken: VecDeque<(AllPosition, DateTime<Utc>)>,
    base: u64,
    sends_in_flight: usize,
}

impl<P: Publisher> Pump<P> {
    /// A pump retrying with `backoff` within `limits`, reporting into `metrics`.
    pub fn new(backoff: Backoff, limits: Limits, metrics: RelayMetrics) -> Self {
        Self {
            backoff,
            limits,
            metrics,
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            taken: VecDeque::new(),
            base: 0,
            sends_in_flight: 0,
        }
    }

    /// Takes events from `events` (in `$all` order), publishes them through `publisher`, and
    /// reports each new end of the acknowledged prefix to `checkpointer`. Returns once `events`
    /// is closed and everything taken was acknowledged; stop it by dropping the future (what
    /// was in flight is then unacknowledged, and the pump with it is gone: a new active phase
    /// starts a new one from the stored checkpoint).
    pub async fn run(
        mut self,
        publisher: &P,
        events: &mut mpsc::Receiver<RecordedEvent>,
        checkpointer: &Checkpointer,
    ) {
        let mut in_flight: InFlight<'_, P::Lane, P::Message, P::Error> = FuturesUnordered::new();
        let mut preparing: Option<Preparing<'_, P::Lane, P::Message>> = None;
        let mut open = true;
        let mut buffer = Vec::new();
        loop {
            self.start_sends(publisher, &mut in_flight);
            let room = self
                .limits
                .max_pending_events
                .saturating_sub(self.taken.len());
            tokio::select! {
                biased;
                Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                    self.settle(outcome, &mut in_flight, checkpointer);
                }
                // Encoding and routing the next events while earlier ones are in flight.
                prepared = async { preparing.as_mut().expect("checked").await },
                    if preparing.is_some() =>
                {
                    preparing = None;
                    self.take(prepared);
                }
                taken = events.recv_many(&mut buffer, room),
                    if open && preparing.is_none() && room > 0 =>
                {
                    if taken == 0 {
                        open = false;
                    } else {
                        let chunk = std::mem::take(&mut buffer);
                        let metrics = self.metrics.clone();
                        preparing =
                            Some(Box::pin(prepare_all(publisher, chunk, self.backoff, metrics)));
                    }
                }
                else => {
                    // Nothing in flight, nothing being prepared, and no more events: every
                    // taken event was acknowledged.
                    debug_assert!(self.taken.is_empty());
                    return;
                }
            }
        }
    }

    /// Events prepared (in `$all` order) enter their lanes.
    fn take(&mut self, prepared: Prepared<P::Lane, P::Message>) {
        for (lane_id, message, at, recorded_at) in prepared {
            let seq = self.base + self.taken.len() as u64;
            self.taken.push_back((at, recorded_at));
            if self
                .lanes
                .entry(lane_id.clone())
                .or_default()
                .push(seq, message)
            {
                self.ready.push_back(lane_id);
            }
        }
    }

    /// Starts a send for ready lanes while send slots are free.
    fn start_sends<'a>(
        &mut self,
        publisher: &'a P,
        in_flight: &mut InFlight<'a, P::Lane, P::Message, P::Error>,
    ) {
        while self.sends_in_flight < self.limits.max_sends_in_flight {
            let Some(lane_id) = self.ready.pop_front() else {
                return;
            };
            let lane = self.lanes.get_mut(&lane_id).expect("a ready lane exists");
            let batch = lane.start_send(self.limits.max_batch_events);
            self.sends_in_flight += 1;
            in_flight.push(Box::pin(async move {
                let result = publisher.send(&lane_id, &batch).await;
                Outcome::Sent {
                    lane: lane_id,
                    batch,
                    result,
                }
            }));
        }
    }

    /// Applies what a lane's future came back with.
    fn settle(
        &mut self,
        outcome: Outcome<P::Lane, P::Message, P::Error>,
        in_flight: &mut InFlight<'_, P::Lane, P::Message, P::Error>,
        checkpointer: &Checkpointer,
    ) {
        match outcome {
            Outcome::Sent {
                lane: lane_id,
                batch,
                result: Ok(acknowledged),
            } => {
                self.sends_in_flight -= 1;
                let lane = self
                    .lanes
                    .get_mut(&lane_id)
                    .expect("a lane in flight exists");
                // Never more than was sent; a publisher answering 0 only gets the batch offered
                // again.
                let acknowledged = acknowledged.min(batch.len());
                if lane.acknowledged(batch, acknowledged) {
                    self.ready.push_back(lane_id);
                }
                self.metrics.published_events.inc_by(acknowledged as u64);
                self.metrics.batches.inc();
                self.advance(checkpointer);
            }
            Outcome::Sent {
                lane: lane_id,
                batch,
                result: Err(error),
            } => {
                self.sends_in_flight -= 1;
                let lane = self
                    .lanes
                    .get_mut(&lane_id)
                    .expect("a lane in flight exists");
                let failures = lane.failed(batch);
                self.metrics.send_failures.inc();
                let pause = self.backoff.delay(failures);
                warn!(
                    lane = ?lane_id,
                    error = %error_chain(&error),
                    failures,
                    ?pause,
                    "publishing failed; retrying from the lane's first unacknowledged event"
                );
                in_flight.push(Box::pin(async move {
                    tokio::time::sleep(pause).await;
                    Outcome::RetryDue { lane: lane_id }
                }));
            }
            Outcome::RetryDue { lane: lane_id } => {
                let lane = self.lanes.get_mut(&lane_id).expect("a pausing lane exists");
                if lane.retry_due() {
                    self.ready.push_back(lane_id);
                }
            }
        }
    }

    /// Moves the acknowledged prefix up to the first unacknowledged event of any lane and
    /// reports its new end.
    fn advance(&mut self, checkpointer: &Checkpointer) {
        let end = self.base + self.taken.len() as u64;
        let first_unacknowledged = self
            .lanes
            .values()
            .filter_map(Lane::first_unacknowledged)
            .min()
            .unwrap_or(end);
        let mut last = None;
        while self.base < first_unacknowledged {
            last = self.taken.pop_front();
            self.base += 1;
        }
        if let Some((at, recorded_at)) = last {
            let lag = Utc::now() - recorded_at;
            self.metrics.lag_ms.set(lag.num_milliseconds().max(0));
            checkpointer.acknowledged(at);
        }
    }
}

/// Prepares `events` in order, retrying each until it is prepared.
async fn prepare_all<P: Publisher>(
    publisher: &P,
    events: Vec<RecordedEvent>,
    backoff: Backoff,
    metrics: RelayMetrics,
) -> Prepared<P::Lane, P::Message> {
    let mut prepared = Vec::with_capacity(events.len());
    for event in events {
        let mut failures = 0;
        loop {
            match publisher.prepare(&event).await {
                Ok((lane, message)) => {
                    prepared.push((lane, message, event.all_position(), event.recorded_at));
                    break;
                }
                Err(error) => {
                    failures += 1;
                    metrics.send_failures.inc();
                    let pause = backoff.delay(failures);
                    warn!(
                        error = %error_chain(&error),
                        failures,
                        ?pause,
                        at = %event.all_position(),
                        "preparing an event failed; retrying"
                    );
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
    prepared
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
