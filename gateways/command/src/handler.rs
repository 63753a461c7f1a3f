//! The generic command handler: load a stream and fold it, look the command id up, decide with
//! the pure aggregate, append with the expected version, retry on conflicts.
//!
//! # Invariants
//! 1. **Optimistic concurrency.** Events are appended with the version the decision was made
//!    against (`Exact(v)`, or `NoStream` for an empty stream); a concurrent writer makes the
//!    append fail with `WrongExpectedVersion`, and the command is reloaded and decided again, at
//!    most `max_attempts` times, then answered `ABORTED`. No decision is ever written against a
//!    state it was not made on, so there are no lost updates.
//! 2. **One command, one set of events.** Event ids are derived from the command id
//!    ([`event_id`]: UUIDv5 of the command id and the event's index), so however often and
//!    however concurrently a command is sent, the event log's unique event ids let at most one
//!    set of its events in.
//! 3. **Retries return the original result without deciding again** (docs/command-idempotency.md).
//!    Each attempt loads the stream and looks the command id up in the log in one statement, one
//!    snapshot (`EventStore::read_stream_for_command`; a long catch-up looks up again after its
//!    last page). If an earlier execution committed before the lookup, the lookup finds it and its
//!    stored result is returned; if it committed after the lookup, it also committed after the
//!    load, so this attempt decides against the state the original saw, produces the same event
//!    ids, and the append either replays the original result (same ids) or conflicts and the next
//!    attempt's lookup finds it. A retry therefore never runs `decide` against a state that already
//!    contains its own effect.
//! 4. A command that changes nothing (`decide` returns no events) writes nothing and returns the
//!    stream's current version and the position of its last event. Such a command leaves no
//!    trace, so a retry of it is decided again (harmless while it is still a no-op). On a stream
//!    that does not exist there is no version to return: the command is answered `NOT_FOUND`
//!    (`<category> does not exist`), e.g. clearing a cart that was never used.
//! 5. **Folded state is cached, never trusted blindly.** Each handler keeps the folds of recently
//!    used streams (bounded, evicted when idle). An entry is only ever built from events read from
//!    the log, and the log is append-only, so an entry at version `v` stays the exact fold of
//!    events `0..=v` forever; every load still reads the events after `v` (usually none: one index
//!    probe) before deciding. Loading therefore always sees the stream as of now — invariant 3
//!    holds unchanged — without re-reading and re-folding a long stream per command. Concurrent
//!    loads may store an older entry over a newer one; that costs a longer catch-up, not
//!    correctness.
//! 6. **Commands on one aggregate queue up inside a process.** Each attempt loop runs holding an
//!    in-process lock of its stream, so concurrent commands on a hot aggregate wait for each other
//!    instead of colliding and aborting. Correctness never depends on the lock: other processes
//!    still race through invariant 1, and an evicted lock entry only lets two commands race again.
//! 7. A service that must ask another service before deciding (the cart asks the product
//!    service) first calls [`CommandHandler::executed`]: a retry of a command that already ran is
//!    answered from the log without depending on the other service at all.
//! 8. **A command id names one request.** Every event a command appends records the request's
//!    fingerprint (a hash of its method, caller and canonical body: `request::context`, see
//!    `docs/command-fingerprints.md`). A command id that already ran is answered with its stored
//!    result only when the fingerprint matches; otherwise the answer is
//!    [`AppError::DifferentRequest`] and nothing is decided. The same holds when the two race
//!    through different replicas: the event store refuses to replay ids written with another
//!    fingerprint, or a part of an earlier batch, and the next attempt's lookup answers.
//! 9. **Authorization sees the state the command is decided on.** A customer-scoped check that
//!    depends on the aggregate (who owns this order?) runs inside the attempt loop, on the very
//!    fold `decide` gets ([`CommandHandler::execute_authorized`]), never on an earlier load: a
//!    check on a stale load could admit a customer to an order placed by someone else meanwhile.

use std::{
    hash::{BuildHasher, RandomState},
    marker::PhantomData,
    sync::Arc,
    time::Duration,
};

use aggregates::{Aggregate, DomainError, DomainEvent};
use event_store::{
    CurrentVersion, EventMetadata, EventStore, ExecutedCommand, ExpectedVersion, NewEvent,
    RecordedEvent, StoreError, StreamId,
};
use tracing::{Instrument, debug, info_span};
use uuid::Uuid;

use crate::error::AppError;

/// Who sent a command and why: becomes the metadata of every event it appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    /// The client's id for this intended action; the idempotency key.
    pub command_id: Uuid,
    /// Ties together everything one user action caused, across services.
    pub correlation_id: Uuid,
    /// The authenticated caller (see `Caller::actor`).
    pub actor: String,
    /// W3C trace context of the request, if it carried one.
    pub traceparent: Option<String>,
    /// The fingerprint of the request (invariant 8); `None` only for commands that have no wire
    /// request.
    pub fingerprint: Option<String>,
}

impl CommandContext {
    /// The metadata of the events this command appends; the causation id is the command id.
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata {
            correlation_id: Some(self.correlation_id),
            causation_id: Some(self.command_id),
            actor: Some(self.actor.clone()),
            command_id: Some(self.command_id),
            command_fingerprint: self.fingerprint.clone(),
            traceparent: self.traceparent.clone(),
            extra: Default::default(),
        }
    }
}

/// What a command did: the consistency token (docs/consistency-token.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The stream's version after the command.
    pub version: u64,
    /// Global position of the command's last event (or of the stream's last event, for a command
    /// that changed nothing).
    pub position: u64,
}

/// The id of the `index`-th event appended by command `command_id`: UUIDv5 with the command id
/// as namespace and the index (big-endian `u32`) as name. Deterministic, so a retried command
/// can never write a second copy of its events.
pub fn event_id(command_id: Uuid, index: usize) -> Uuid {
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    Uuid::new_v5(&command_id, &index.to_be_bytes())
}

/// A stream folded into its aggregate's state.
#[derive(Debug)]
pub struct Loaded<A: Aggregate> {
    /// The state after every event of the stream.
    pub state: A::State,
    /// The version of the stream's last event, or no stream.
    pub version: CurrentVersion,
    /// The global position of the stream's last event.
    pub last_position: Option<u64>,
}

impl<A: Aggregate> Clone for Loaded<A> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            version: self.version,
            last_position: self.last_position,
        }
    }
}

/// Streams whose folds a handler keeps (invariant 5).
const CACHED_STREAMS: u64 = 10_000;
/// A cached fold not used for this long is dropped.
const CACHE_IDLE: Duration = Duration::from_secs(600);

/// Runs commands of aggregate `A` against the event log. Cheap to clone; clones share the cache
/// of folded streams.
pub struct CommandHandler<A: Aggregate> {
    store: EventStore,
    max_attempts: u32,
    folds: moka::future::Cache<String, Arc<Loaded<A>>>,
    locks: moka::future::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> Clone for CommandHandler<A> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            max_attempts: self.max_attempts,
            folds: self.folds.clone(),
            locks: self.locks.clone(),
            aggregate: PhantomData,
        }
    }
}

impl<A> CommandHandler<A>
where
    A: Aggregate + 'static,
    A::State: Send + Sync,
    A::Command: Clone,
    A::Error: Into<AppError>,
{
    /// A handler appending to `store`, trying each command at most `max_attempts` times.
    pub fn new(store: EventStore, max_attempts: u32) -> Self {
        Self {
            store,
            max_attempts: max_attempts.max(1),
            folds: moka::future::Cache::builder()
                .max_capacity(CACHED_STREAMS)
                .time_to_idle(CACHE_IDLE)
                .build(),
            locks: moka::future::Cache::builder()
                .max_capacity(CACHED_STREAMS)
                .time_to_idle(CACHE_IDLE)
                .build(),
            aggregate: PhantomData,
        }
    }

    /// The stream of aggregate `id`.
    pub fn stream_id(id: &A::Id) -> Result<StreamId, AppError> {
        StreamId::new(A::CATEGORY, id).map_err(|e| AppError::invalid("id", e.reason))
    }

    /// Aggregate `id`'s stream folded into its state, as of now.
    pub async fn load(&self, id: &A::Id) -> Result<Loaded<A>, AppError> {
        Ok((*self.load_stream(&Self::stream_id(id)?).await?).clone())
    }

    /// The cached fold of `stream` caught up with the log (invariant 5).
    async fn load_stream(&self, stream: &StreamId) -> Result<Arc<Loaded<A>>, AppError> {
        let cached = self.folds.get(stream.as_str()).await;
        let recorded = self
            .store
            .read_stream_from(stream, next_version(cached.as_deref()))
            .await?;
        self.caught_up(stream, cached, &recorded).await
    }

    /// The fold of `stream` caught up with the log, and where command `command_id` appended its
    /// last event if it ran — both from one snapshot (invariant 3).
    async fn load_for_command(
        &self,
        stream: &StreamId,
        command_id: Uuid,
    ) -> Result<(Arc<Loaded<A>>, Option<ExecutedCommand>), AppError> {
        let cached = self.folds.get(stream.as_str()).await;
        let (recorded, executed) = self
            .store
            .read_stream_for_command(stream, next_version(cached.as_deref()), command_id)
            .await?;
        Ok((self.caught_up(stream, cached, &recorded).await?, executed))
    }

    /// `cached` (or the empty state) with `recorded` folded on top, cached for next time.
    async fn caught_up(
        &self,
        stream: &StreamId,
        cached: Option<Arc<Loaded<A>>>,
        recorded: &[RecordedEvent],
    ) -> Result<Arc<Loaded<A>>, AppError> {
        let Some(last) = recorded.last() else {
            return Ok(cached.unwrap_or_else(|| {
                Arc::new(Loaded {
                    state: A::State::default(),
                    version: CurrentVersion::NoStream,
                    last_position: None,
                })
            }));
        };
        let mut state = cached.map_or_else(A::State::default, |l| l.state.clone());
        for event in recorded {
            let event =
                A::Event::from_stored(&event.event_type, event.schema_version, &event.data)?;
            state = A::evolve(state, &event);
        }
        let loaded = Arc::new(Loaded {
            state,
            version: CurrentVersion::At(last.version),
            last_position: Some(last.position),
        });
        self.folds
            .insert(stream.as_str().to_owned(), Arc::clone(&loaded))
            .await;
        Ok(loaded)
    }

    /// The stored result of `context.command_id` if it already ran on aggregate `id`'s stream,
    /// `None` if it never ran, `CommandIdReused` if it ran on another stream. A shortcut for
    /// services that need other services' answers before [`execute`](Self::execute), which
    /// checks again anyway.
    pub async fn executed(
        &self,
        context: &CommandContext,
        id: &A::Id,
    ) -> Result<Option<CommandResult>, AppError> {
        let stream = Self::stream_id(id)?;
        match self.store.find_command(context.command_id).await? {
            Some(done) => stored_result(stream, context, done).map(Some),
            None => Ok(None),
        }
    }

    /// Executes `command` on aggregate `id` exactly once per `context.command_id` (see the
    /// module docs) and returns the stream's version and position after it.
    pub async fn execute(
        &self,
        context: &CommandContext,
        id: &A::Id,
        command: A::Command,
    ) -> Result<CommandResult, AppError> {
        self.execute_authorized(context, id, command, |_| Ok(()))
            .await
    }

    /// As [`execute`](Self::execute), after `authorize` accepted the state the command is about
    /// to be decided on (invariant 9). A retry of a command that already ran is answered from
    /// the log without calling `authorize` again: its fingerprint names the caller.
    pub async fn execute_authorized(
        &self,
        context: &CommandContext,
        id: &A::Id,
        command: A::Command,
        authorize: impl Fn(&A::State) -> Result<(), AppError> + Send + Sync,
    ) -> Result<CommandResult, AppError> {
        let stream = Self::stream_id(id)?;
        let span = info_span!(
            "execute",
            stream = %stream,
            command_id = %context.command_id,
            correlation_id = %context.correlation_id,
        );
        self.execute_on(context, stream, command, &authorize)
            .instrument(span)
            .await
    }

    async fn execute_on(
        &self,
        context: &CommandContext,
        stream: StreamId,
        command: A::Command,
        authorize: &(dyn Fn(&A::State) -> Result<(), AppError> + Send + Sync),
    ) -> Result<CommandResult, AppError> {
        // Invariant 6: queue behind other commands on this stream in this process.
        let lock = self
            .locks
            .get_with_by_ref(stream.as_str(), async { Arc::default() })
            .await;
        let _queued = lock.lock().await;
        // Set when the log refused our event ids as a replay: the next lookup must find the
        // command that wrote them, or the id belongs to something else.
        let mut ids_taken = false;
        for attempt in 1..=self.max_attempts {
            // Load and look up in one snapshot: see invariant 3 for why this order matters.
            let (loaded, executed) = self.load_for_command(&stream, context.command_id).await?;
            if let Some(done) = executed {
                debug!("command already executed; returning its stored result");
                return stored_result(stream, context, done);
            }
            if ids_taken {
                return Err(AppError::CommandIdReused {
                    command_id: context.command_id,
                });
            }
            authorize(&loaded.state)?;
            let events = A::decide(&loaded.state, command.clone()).map_err(Into::into)?;
            if events.is_empty() {
                return unchanged(stream, &loaded);
            }
            let expected = match loaded.version {
                CurrentVersion::NoStream => ExpectedVersion::NoStream,
                CurrentVersion::At(version) => ExpectedVersion::Exact(version),
            };
            let metadata = context.metadata();
            let batch: Vec<NewEvent> = events
                .iter()
                .enumerate()
                .map(|(index, event)| NewEvent {
                    event_id: event_id(context.command_id, index),
                    event_type: event.event_type().to_owned(),
                    schema_version: event.schema_version(),
                    data: event.to_data(),
                    metadata: metadata.clone(),
                })
                .collect();
            match self.store.append(&stream, expected, &batch).await {
                Ok(appended) => {
                    return Ok(CommandResult {
                        stream_id: stream,
                        version: appended.current_version,
                        position: appended.last_position(),
                    });
                }
                Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                    debug!(attempt, %actual, "stream changed under the command; deciding again");
                    if attempt < self.max_attempts {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                }
                // Our ids are in the log but not as this exact batch: another execution of this
                // command (on another replica, decided differently) or of another command got
                // there first. The next attempt's lookup tells which (invariant 8).
                Err(
                    StoreError::IdempotencyMismatch { .. } | StoreError::PartiallyWritten { .. },
                ) => {
                    debug!(attempt, "event ids already taken; looking the command up");
                    ids_taken = true;
                }
                Err(StoreError::FingerprintMismatch { .. }) => {
                    return Err(AppError::DifferentRequest {
                        command_id: context.command_id,
                    });
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Conflict {
            stream: stream.to_string(),
            attempts: self.max_attempts,
        })
    }
}

/// The result the command of `context` returned when it ran as `done`, provided it ran on
/// `stream` with the same request: a command id used on another aggregate or for another
/// request is a client error (invariant 8).
fn stored_result(
    stream: StreamId,
    context: &CommandContext,
    done: ExecutedCommand,
) -> Result<CommandResult, AppError> {
    let command_id = context.command_id;
    if done.stream_id != stream.as_str() {
        return Err(AppError::CommandIdReused { command_id });
    }
    if let (Some(stored), Some(now)) = (&done.fingerprint, &context.fingerprint)
        && stored != now
    {
        return Err(AppError::DifferentRequest { command_id });
    }
    Ok(CommandResult {
        stream_id: stream,
        version: done.version,
        position: done.position,
    })
}

/// The result of a command that appended nothing.
fn unchanged<A: Aggregate>(
    stream: StreamId,
    loaded: &Loaded<A>,
) -> Result<CommandResult, AppError> {
    match (loaded.version, loaded.last_position) {
        (CurrentVersion::At(version), Some(position)) => Ok(CommandResult {
            stream_id: stream,
            version,
            position,
        }),
        // No token names "an empty stream": the aggregate does not exist (invariant 4).
        _ => Err(DomainError::NotCreated {
            entity: A::CATEGORY,
        }
        .into()),
    }
}

/// The first version a cached fold has not seen.
fn next_version<A: Aggregate>(cached: Option<&Loaded<A>>) -> u64 {
    match cached.map(|l| l.version) {
        Some(CurrentVersion::At(version)) => version + 1,
        _ => 0,
    }
}

/// A random pause before attempt `attempt + 1`, growing with the attempt, so that writers that
/// just collided do not collide again in lockstep.
fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 2u64 << attempt.min(8);
    let random = RandomState::new().hash_one(attempt);
    Duration::from_millis(random % (ceiling_ms + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_deterministic_per_command_and_index() {
        let command = Uuid::new_v4();
        assert_eq!(event_id(command, 0), event_id(command, 0));
        assert_ne!(event_id(command, 0), event_id(command, 1));
        assert_ne!(event_id(command, 0), event_id(Uuid::new_v4(), 0));
        assert_eq!(event_id(command, 0).get_version_num(), 5);
    }

    #[test]
    fn metadata_records_correlation_causation_actor_and_command() {
        let context = CommandContext {
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            actor: "admin:alice".into(),
            traceparent: None,
            fingerprint: Some("f".into()),
        };
        let metadata = context.metadata();
        assert_eq!(metadata.causation_id, Some(context.command_id));
        assert_eq!(metadata.command_id, Some(context.command_id));
        assert_eq!(metadata.correlation_id, Some(context.correlation_id));
        assert_eq!(metadata.actor.as_deref(), Some("admin:alice"));
        assert_eq!(metadata.command_fingerprint.as_deref(), Some("f"));
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 1..10 {
            assert!(backoff(attempt) <= Duration::from_millis(2 << attempt.min(8)));
        }
    }
}
