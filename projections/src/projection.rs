//! The contract between the projection runtime and the read models.
//!
//! A read model says *what* an event changes; the runtime ([`crate::runtime`]) decides *whether*
//! and *when*: it applies each stream's events in version order, exactly once per version, and
//! records "last applied version of this stream" in the same atomic write as the change:
//!
//! - PostgreSQL read models get an open transaction; the runtime checks and updates the stream's
//!   marker (table `projection_versions`) in that same transaction.
//! - Redis read models return their writes as data ([`RedisWrite`]), absolute writes only; the
//!   runtime runs them in one Lua script that checks and updates the marker (hash
//!   `<keyspace>:versions`) first.
//!
//! **Invariant every read model keeps:** its state is a function of the events it was given, in
//! per-stream version order, and nothing else: no clock (use `recorded_at` or the event's own
//! time), no random ids, no reads of another projection's tables or keys
//! (docs/private-read-model-copies.md: a model that needs another context's data keeps its own
//! copy, built from that context's events). That is what makes a rebuild from the log equal to the
//! live state.

use std::sync::Arc;

use event_store::RecordedEvent;
use futures::future::BoxFuture;

/// Why a read model could not apply an event. The runtime retries, then parks the event.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The payload is not what the read model expects (unknown schema, no upcaster, bad data).
    /// Retrying does not help: the event is parked for an operator.
    #[error("cannot decode {event_type} (schema {schema_version}): {reason}")]
    Decode {
        /// The event's type, as recorded.
        event_type: String,
        /// Its payload's schema version.
        schema_version: i32,
        /// What did not decode.
        reason: String,
    },
    /// The event contradicts the read model's state (e.g. a line for an order it never saw).
    /// A bug or a missed event: parked.
    #[error("inconsistent event: {0}")]
    Inconsistent(String),
    /// PostgreSQL failed; usually transient.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Redis failed; usually transient.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl ProjectionError {
    /// Builds a [`ProjectionError::Decode`] for `event`.
    pub fn decode(event: &RecordedEvent, reason: impl std::fmt::Display) -> Self {
        Self::Decode {
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            reason: reason.to_string(),
        }
    }
}

/// A read model kept in PostgreSQL tables it alone owns.
pub trait PostgresProjection: Send + Sync + 'static {
    /// Unique name, `[a-z][a-z0-9_]*`: consumer group suffix, marker and parking namespace.
    fn name(&self) -> &'static str;
    /// The event categories (bounded contexts, hence topics) it reads.
    fn categories(&self) -> &'static [&'static str];
    /// The tables it owns, in the order [`PostgresProjection::ddl`] creates them: moved as one
    /// set when a generation becomes live, compared by the rebuild-equals-live check.
    fn tables(&self) -> &'static [&'static str];
    /// The statements creating [`PostgresProjection::tables`] and their indexes, names
    /// unqualified: the runtime runs them in a new generation's schema
    /// (docs/read-model-generations.md).
    fn ddl(&self) -> &'static str;
    /// The version of this projection's code. Bump it when a change makes the rows it writes
    /// differ from the old code's: workers then build a new generation with the new code beside
    /// the live one and switch to it when it caught up (blue/green inside one database), and a
    /// worker never applies to a generation another version built.
    fn version(&self) -> u32 {
        1
    }
    /// Applies `event` inside `tx`. The runtime has checked that it is the stream's next version
    /// and records it in the same transaction. Events of no interest: return `Ok(())`.
    fn apply<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;

    /// Applies `events` inside `tx`: a batch the runtime checked, each event the next version of
    /// its stream, each stream's events in version order, streams in no particular order. The
    /// default applies them one by one with [`PostgresProjection::apply`]; a read model may
    /// coalesce them into multi-row statements, provided the state it leaves is the one the
    /// events applied one by one would leave. An error fails the whole batch (the runtime then
    /// applies its events one by one to find the bad one).
    fn apply_all<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        events: &'a [&'a RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            for event in events {
                self.apply(&mut *tx, event).await?;
            }
            Ok(())
        })
    }
}

/// A read model kept in Redis keys under its own [`KeySpace`].
pub trait RedisProjection: Send + Sync + 'static {
    /// Unique name, `[a-z][a-z0-9_]*`.
    fn name(&self) -> &'static str;
    /// The event categories it reads.
    fn categories(&self) -> &'static [&'static str];
    /// The version of this projection's code (see [`PostgresProjection::version`]).
    fn version(&self) -> u32 {
        1
    }
    /// The writes `event` causes, computed from the event alone. The runtime runs them in one Lua
    /// script together with the marker check. Redis does not roll a script back: one that fails
    /// half way keeps the writes it made and the version is applied again, so every write must be
    /// *absolute*, leaving the same state when run twice
    /// ([`ABSOLUTE_WRITES`](crate::runtime::ABSOLUTE_WRITES): `HSET`, `DEL`, `ZADD`…). Relative
    /// writes (`HINCRBY`, `INCR`, `RPUSH`) are refused before anything of the batch is written
    /// ([`RuntimeError::NotAbsoluteWrite`](crate::runtime::RuntimeError::NotAbsoluteWrite)), and
    /// the event is parked: write the new value the event carries (a new total, not the delta).
    /// Events of no interest: no writes.
    fn writes(
        &self,
        keys: &KeySpace,
        event: &RecordedEvent,
    ) -> Result<Vec<RedisWrite>, ProjectionError>;
}

/// One read model of either kind.
#[derive(Clone)]
pub enum Projection {
    /// Applied in PostgreSQL transactions.
    Postgres(Arc<dyn PostgresProjection>),
    /// Applied as absolute writes in one Redis script.
    Redis(Arc<dyn RedisProjection>),
}

impl Projection {
    /// The read model's name: its checkpoint, lease and parked events are kept under it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres(p) => p.name(),
            Self::Redis(p) => p.name(),
        }
    }

    /// The stream categories whose events it consumes.
    pub fn categories(&self) -> &'static [&'static str] {
        match self {
            Self::Postgres(p) => p.categories(),
            Self::Redis(p) => p.categories(),
        }
    }

    /// The version of its code.
    pub fn version(&self) -> u32 {
        match self {
            Self::Postgres(p) => p.version(),
            Self::Redis(p) => p.version(),
        }
    }
}

impl std::fmt::Debug for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Postgres(_) => "postgres",
            Self::Redis(_) => "redis",
        };
        write!(f, "{kind}:{}", self.name())
    }
}

/// The Redis keys of one projection: `<prefix>:<projection>:<rest>`. Tests use a prefix of
/// their own so parallel tests share one Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    base: String,
}

impl KeySpace {
    /// Keys `<prefix>:<projection>:…`.
    pub fn new(prefix: &str, projection: &str) -> Self {
        Self {
            base: format!("{prefix}:{projection}"),
        }
    }

    /// `<prefix>:<projection>:<rest>`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.base)
    }

    /// `<prefix>:<projection>`, the start of every key of this projection.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// One absolute Redis write run inside the runtime's script, e.g. `HSET key field value`
/// (allowed commands: [`ABSOLUTE_WRITES`](crate::runtime::ABSOLUTE_WRITES)).
/// The first argument is the command, the second the key it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisWrite {
    /// The command and its arguments, as sent.
    pub args: Vec<String>,
}

impl RedisWrite {
    /// `command key args…`.
    pub fn new<I, S>(command: &str, key: String, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all = vec![command.to_owned(), key];
        all.extend(args.into_iter().map(Into::into));
        Self { args: all }
    }
}
