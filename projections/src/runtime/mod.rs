//! The projection runtime: how events reach the read models, effectively once.
//!
//! - [`apply_batch`](ProjectionRuntime::apply_batch) (file `apply.rs`): the one function that
//!   applies events to a read model, a batch in one atomic write, used by the live consumer, by
//!   rebuilds, by re-drives and by repairs. It checks and advances each stream's version marker in
//!   the same atomic write as the change, and fills gaps from the log.
//! - `handle.rs`: a consumed batch with retries; a poison event isolated and parked alone.
//! - `parking.rs`: parking of events that keep failing, with their stream stopped behind them
//!   (docs/parking-keeps-stream-order.md); re-drive and skip for operators.
//! - `lease.rs`: the per-model lease that keeps a switch apart from every consumer's batches.
//! - `consumer.rs`: one orderly RocketMQ consumer group per projection, bridged to async work.
//! - `generations.rs`: where each generation of a read model lives, and which one is live
//!   (docs/read-model-generations.md).
//! - `replay.rs`: building a new generation from the log beside the live one and switching to
//!   it atomically; rollback; the rebuild at start when a model has no generation of this code
//!   (never built, Redis lost its epoch: docs/redis-read-model-loss.md).
//! - `verify.rs`: building a scratch generation and comparing it with the live one.
//! - `reconcile.rs`: the periodic check that finds a store's lost writes and repairs them.
//! - `snapshot.rs`: a read model's whole state as sorted JSON, to check "rebuilt == live".
//! - `metrics.rs`: per-projection counters and lag gauges.
//! - `app.rs`: the whole worker process, started in-process by the binary and by tests.

mod app;
mod apply;
mod consumer;
mod error;
mod generations;
mod handle;
mod lease;
mod metrics;
mod parking;
mod reconcile;
mod replay;
mod snapshot;
mod verify;

use std::time::Duration;

use event_store::EventStore;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

pub use app::ProjectionApp;
pub use apply::{ABSOLUTE_WRITES, Applied};
pub use consumer::{consumer_group, start_consumers};
pub use error::RuntimeError;
pub use generations::{
    Epoch, Generation, Purpose, Status, epoch_key, live_redis_keys, pg_schema, redis_keys,
};
pub use handle::Handled;
pub use metrics::ProjectionMetrics;
pub use parking::{ParkedEvent, RedriveReport};
pub use reconcile::ReconcileReport;
pub use replay::{Progress, ProgressSink, ReplayReport};
pub use verify::{Difference, VerifyReport};

use crate::KeySpace;

/// How often one event is tried before it is parked, and the pause between two tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries of one event (at least 1).
    pub max_attempts: u32,
    /// Pause between two tries.
    pub retry_delay: Duration,
}

impl RetryPolicy {
    /// The policy of `settings.projections`.
    pub fn from_settings(settings: &settings::ProjectionSettings) -> Self {
        Self {
            max_attempts: settings.max_attempts.max(1),
            retry_delay: Duration::from_millis(settings.retry_delay_ms),
        }
    }
}

/// What every projection of a process shares: the read-model database (also holding the event
/// log, the markers and the parked events), Redis, and the retry policy. Cheap to share in an
/// `Arc`; every operation on a projection goes through it.
pub struct ProjectionRuntime {
    pool: PgPool,
    store: EventStore,
    redis: ConnectionManager,
    redis_prefix: String,
    policy: RetryPolicy,
    metrics: ProjectionMetrics,
    replay_page: usize,
    keep_retired: Duration,
}

impl ProjectionRuntime {
    /// A runtime over `pool` (read models, markers, parked events), `store` (the log, read for
    /// Redis gaps and rebuilds) and `redis`, with Redis keys under `redis_prefix`. A PostgreSQL
    /// apply reads its gap from the log on its own `pool` connection, so the log must live in
    /// the read-model database, as it does in every deployment.
    pub fn new(
        pool: PgPool,
        store: EventStore,
        redis: ConnectionManager,
        redis_prefix: impl Into<String>,
        policy: RetryPolicy,
        metrics: ProjectionMetrics,
    ) -> Self {
        Self {
            pool,
            store,
            redis,
            redis_prefix: redis_prefix.into(),
            policy,
            metrics,
            replay_page: 5_000,
            keep_retired: Duration::from_secs(3600),
        }
    }

    /// Replays and verifies read `page` events of `$all` at a time; retired generations are
    /// kept `keep_retired` for a rollback.
    pub fn with_replay(mut self, page: usize, keep_retired: Duration) -> Self {
        self.replay_page = page.clamp(1, 10_000);
        self.keep_retired = keep_retired;
        self
    }

    /// Connects to the database and Redis `settings` name (lazily for the database).
    pub async fn connect(
        settings: &settings::Settings,
        metrics: ProjectionMetrics,
    ) -> Result<Self, RuntimeError> {
        use settings::ExposeSecret;
        let pool = event_store::connect_lazy(&settings.database)?;
        let store = EventStore::new(pool.clone(), settings.event_store.clone());
        let client = redis::Client::open(settings.redis.url.expose_secret())?;
        let redis = ConnectionManager::new(client).await?;
        let projections = &settings.projections;
        Ok(Self::new(
            pool,
            store,
            redis,
            projections.redis_prefix.clone(),
            RetryPolicy::from_settings(projections),
            metrics,
        )
        .with_replay(
            projections.replay_page as usize,
            Duration::from_secs(projections.keep_retired_minutes * 60),
        ))
    }

    /// The Redis keys of generation 0 of the projection named `projection` (the base every
    /// generation's keys are under; see [`redis_keys`] for a given generation).
    pub fn key_space(&self, projection: &str) -> KeySpace {
        KeySpace::new(&self.redis_prefix, projection)
    }

    /// The Redis keys of the live generation of the projection named `projection`, as readers
    /// resolve them (the epoch names it; none: generation 0).
    pub async fn live_key_space(&self, projection: &str) -> Result<KeySpace, RuntimeError> {
        Ok(live_redis_keys(&mut self.redis(), &self.redis_prefix, projection).await?)
    }

    /// The Redis key prefix of every projection.
    pub fn redis_prefix(&self) -> &str {
        &self.redis_prefix
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The event log.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The metrics this runtime updates.
    pub fn metrics(&self) -> &ProjectionMetrics {
        &self.metrics
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }
}
