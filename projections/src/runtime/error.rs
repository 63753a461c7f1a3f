//! The runtime's errors, and which of them mean "the infrastructure is away, wait" rather than
//! "this event is bad, park it".

use crate::ProjectionError;

/// Why the runtime could not do something.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The read model refused the event (or its storage failed while applying it). Retried,
    /// then parked, unless [`RuntimeError::is_transient`].
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The event log could not be read. Usually transient.
    #[error("event log: {0}")]
    Store(#[from] event_store::StoreError),
    /// PostgreSQL failed outside the read model's own code (markers, parking). Usually transient.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Redis failed outside the read model's own code (markers, epoch). Usually transient.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A Redis read model asked for a write that is not absolute (`command`, e.g. `HINCRBY`; see
    /// [`ABSOLUTE_WRITES`](super::ABSOLUTE_WRITES)): run again after a script failed half way, it
    /// would change the model twice. Nothing of the batch was written. A bug in the read model:
    /// parked; fix it to write values computed from the event, then re-drive.
    #[error("{projection} asked for {command}, not an absolute write: nothing written")]
    NotAbsoluteWrite {
        /// The read model at fault.
        projection: String,
        /// The Redis command it asked for.
        command: String,
    },
    /// A gap could not be filled: the log lacks a version before the event being applied. A bug
    /// or a foreign database: parked.
    #[error("the log has no version {missing} of {stream} (needed before version {version})")]
    MissingFromLog {
        /// The stream with the hole.
        stream: String,
        /// The version the log lacks.
        missing: u64,
        /// The version being applied.
        version: u64,
    },
    /// A rebuild waited too long for an open transaction (transaction id `watermark`, anywhere
    /// on the server) that holds `$all` back. Find and end it, then rebuild again.
    #[error("the log is held back by transaction {watermark}; rebuild again later")]
    HeldBack {
        /// Id of the oldest transaction still open.
        watermark: u64,
    },
    /// The broker could not be reached or refused a set-up step. Retry at start-up.
    #[error("rocketmq: {0}")]
    Broker(#[from] rocketmq::GatewayError),
    /// No projection of that name runs in this process. Check the name (`parked list`).
    #[error("unknown projection {0}")]
    UnknownProjection(String),
    /// The operator named a parked event that does not exist (or belongs to another
    /// projection). Check the id (`parked list`).
    #[error("no parked event #{id} of {projection}")]
    NotParked {
        /// The projection named.
        projection: String,
        /// The parked-event id named.
        id: i64,
    },
    /// The operator asked to skip a parked event while an earlier one of its stream is still
    /// parked: skipping it would let the stream overtake that one. Deal with `oldest` first
    /// (re-drive the stream, or skip it).
    #[error(
        "parked event #{id} is not the oldest of {stream}: re-drive the stream or skip #{oldest} first"
    )]
    NotOldestParked {
        /// The parked event the operator asked to skip.
        id: i64,
        /// Its stream.
        stream: String,
        /// The earlier parked event of that stream.
        oldest: i64,
    },
    /// A parked event could not be re-driven; it stays parked with this error (and the stream
    /// stays stopped).
    #[error("re-drive of {stream} stopped at version {version:?}: {error}")]
    RedriveFailed {
        /// The stream being re-driven.
        stream: String,
        /// The version that failed, if it got as far as one.
        version: Option<u64>,
        /// The failure, as text (it is stored with the parked event).
        error: String,
    },
    /// A switch to a new generation (or a rebuild) holds or waits for the model's lease: batches
    /// of it wait until it is done
    /// (transient: the queue waits, nothing is parked).
    #[error("{projection} is being rebuilt; waiting for its lease")]
    LeaseBusy {
        /// The read model being rebuilt.
        projection: String,
    },
    /// The live generation of the model was built by another version of its code: this worker
    /// does not apply to it (docs/read-model-generations.md). Transient: the batch waits until
    /// a replay of this version switches in, or this worker is replaced.
    #[error(
        "{projection}: the live generation is version {live} of the projection, this worker runs version {code}"
    )]
    OtherVersion {
        /// The model.
        projection: String,
        /// The version that built the live generation.
        live: u32,
        /// This worker's version.
        code: u32,
    },
    /// Another replay or verify of the model is running (on this or another replica): one at a
    /// time. Not retried: run it again when that one is done.
    #[error("a replay or verify of {projection} is already running")]
    ReplayRunning {
        /// The model.
        projection: String,
    },
    /// A replay could not complete; the live generation is untouched.
    #[error("replay of {projection}: {reason}")]
    Replay {
        /// The model.
        projection: String,
        /// What stopped it.
        reason: String,
    },
    /// A Redis read model lost its data (its epoch key is gone: a restart without persistence, a
    /// flush, a failover to an empty replica), or the epoch names another generation than the
    /// batch was made for: nothing was written. The runtime rebuilds the model from the log and
    /// applies the batch again; never parked.
    #[error("{projection} lost its data in Redis (no epoch): rebuilding it")]
    ReadModelLost {
        /// The read model whose data is gone.
        projection: String,
    },
    /// The metrics endpoint could not listen.
    #[error("metrics endpoint: {0}")]
    Metrics(#[source] std::io::Error),
}

impl RuntimeError {
    /// Whether the error says a dependency cannot serve right now rather than that the event is
    /// bad: unreachable (connection refused or dropped, pool timeout), or, for PostgreSQL, any
    /// error [`event_store::is_transient`] accepts (out of resources, shut down or canceled by an
    /// operator, a lost serialization race or deadlock, read-only after a failover). Such errors
    /// never park an event: the queue waits instead, so an outage does not stop every stream.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Projection(ProjectionError::Redis(error)) | Self::Redis(error) => {
                redis_transient(error)
            }
            Self::Broker(_)
            | Self::LeaseBusy { .. }
            | Self::ReadModelLost { .. }
            | Self::OtherVersion { .. } => true,
            _ => self.is_database_fault(),
        }
    }

    /// Whether PostgreSQL itself failed transiently (the connection that saw it should be
    /// closed, not pooled: after a failover it may reach the demoted primary). A busy lease, a
    /// lost Redis model or a Redis fault leave the PostgreSQL connection as good as it was.
    pub fn is_database_fault(&self) -> bool {
        match self {
            Self::Projection(ProjectionError::Postgres(error))
            | Self::Postgres(error)
            | Self::Store(event_store::StoreError::Database(error)) => {
                event_store::is_transient(error)
            }
            _ => false,
        }
    }
}

fn redis_transient(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
}
