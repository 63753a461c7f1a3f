//! Read-your-writes (docs/consistency-token.md): a consistency token is the `(stream id, version)`
//! a command returned; a read model has reached it once its version marker for that stream is at
//! least that version. The projection runtime raises the marker in the same atomic write as the
//! model's own update (PostgreSQL: table `projection_versions`; Redis: hash
//! `<prefix>:<model>:versions`), so "marker ≥ v" means the model includes version v.
//!
//! The gauge `query_consistency_waits_in_flight` counts the queries waiting right now: those
//! that found the marker behind their token and have neither seen it reached nor given up. A
//! value that stays high says the projection workers lag (or are stopped).

use std::time::Duration;

use event_store::StreamId;
use projections::read_models::{
    ReadError,
    registry::{self, ReadModelSpec, Store},
};
use redis::aio::ConnectionManager;
use server::{Gauge, Registry};
use sqlx::PgPool;
use tokio::time::Instant;

use crate::error::QueryError;

/// The read models the query services answer from; what each one is (name, store, followed
/// categories) comes from the projections' [`registry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadModel {
    /// [`registry::CATALOG`].
    Catalog,
    /// [`registry::CART_VIEW`].
    CartView,
    /// [`registry::CUSTOMERS`].
    Customers,
    /// [`registry::ORDERS`].
    Orders,
    /// [`registry::PAYMENTS`].
    Payments,
    /// [`registry::CHECKOUTS`].
    Checkouts,
}

impl ReadModel {
    /// The projection's registry entry.
    pub fn spec(self) -> ReadModelSpec {
        match self {
            Self::Catalog => registry::CATALOG,
            Self::CartView => registry::CART_VIEW,
            Self::Customers => registry::CUSTOMERS,
            Self::Orders => registry::ORDERS,
            Self::Payments => registry::PAYMENTS,
            Self::Checkouts => registry::CHECKOUTS,
        }
    }

    /// The projection's name (its marker namespace).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The stream categories the projection follows: the only streams whose tokens it can
    /// reach.
    pub fn categories(self) -> &'static [&'static str] {
        self.spec().categories
    }

    fn in_redis(self) -> bool {
        self.spec().store == Store::Redis
    }
}

/// A consistency token as received: checked, not yet waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The stream.
    pub stream: StreamId,
    /// The version the read model must have applied.
    pub version: u64,
}

impl Token {
    /// Checks a request's optional token: the stream id must be well formed.
    pub fn from_request(
        token: Option<&proto::query::ConsistencyToken>,
    ) -> Result<Option<Self>, QueryError> {
        let Some(token) = token else {
            return Ok(None);
        };
        let stream = StreamId::parse(token.stream_id.clone())
            .map_err(|error| QueryError::InvalidArgument(format!("consistency token: {error}")))?;
        Ok(Some(Self {
            stream,
            version: token.version,
        }))
    }
}

/// The consistency-wait metric of a process: `query_consistency_waits_in_flight`.
#[derive(Debug, Clone, Default)]
pub struct ConsistencyMetrics {
    in_flight: Gauge,
}

impl ConsistencyMetrics {
    /// Registers the metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "query_consistency_waits_in_flight",
            "Queries waiting for a read model to reach their consistency token",
            self.in_flight.clone(),
        );
    }

    /// Queries waiting for their consistency token right now.
    pub fn waits_in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    fn enter(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }
}

/// One query counted in `query_consistency_waits_in_flight`, until dropped: also when the
/// query's future is dropped mid-wait (the client went away, the request timed out).
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Reads the version markers of the read models.
#[derive(Clone)]
pub struct Markers {
    pool: PgPool,
    redis: ConnectionManager,
    redis_prefix: String,
    metrics: ConsistencyMetrics,
}

/// First pause between two marker reads; doubled up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(2);
const MAX_POLL: Duration = Duration::from_millis(25);

impl Markers {
    /// Markers in `pool` and under `redis_prefix` in `redis`; waits are counted in `metrics`.
    pub fn new(
        pool: PgPool,
        redis: ConnectionManager,
        redis_prefix: String,
        metrics: ConsistencyMetrics,
    ) -> Self {
        Self {
            pool,
            redis,
            redis_prefix,
            metrics,
        }
    }

    /// The last version of `stream` that `model` applied, if any.
    pub async fn applied(&self, model: ReadModel, stream: &str) -> Result<Option<u64>, ReadError> {
        if model.in_redis() {
            let keys = projections::runtime::live_redis_keys(
                &mut self.redis.clone(),
                &self.redis_prefix,
                model.name(),
            )
            .await?;
            let key = keys.key("versions");
            let version: Option<u64> = redis::cmd("HGET")
                .arg(key)
                .arg(stream)
                .query_async(&mut self.redis.clone())
                .await?;
            Ok(version)
        } else {
            let version: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM projection_versions WHERE projection = $1 AND stream_id = $2 \
                 AND generation = coalesce((SELECT generation FROM read_model_generations \
                   WHERE projection = $1 AND status = 'live'), 0)",
            )
            .bind(model.name())
            .bind(stream)
            .fetch_optional(&self.pool)
            .await?;
            Ok(version.map(|version| version as u64))
        }
    }

    /// Returns once `model` has applied `token`, or fails `NotYetConsistent` after `wait`; a
    /// token of a stream `model` does not follow fails `InvalidArgument` at once.
    pub async fn wait(
        &self,
        model: ReadModel,
        token: &Token,
        wait: Duration,
    ) -> Result<(), QueryError> {
        if !model.categories().contains(&token.stream.category()) {
            return Err(QueryError::InvalidArgument(format!(
                "consistency token names stream {}, which read model {} does not follow \
                 (it follows {})",
                token.stream,
                model.name(),
                model.categories().join(", ")
            )));
        }
        let started = Instant::now();
        let deadline = started + wait;
        let mut pause = FIRST_POLL;
        let mut in_flight = None;
        loop {
            let applied = self.applied(model, token.stream.as_str()).await?;
            if applied.is_some_and(|version| version >= token.version) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(QueryError::NotYetConsistent {
                    model: model.name(),
                    stream: token.stream.to_string(),
                    version: token.version,
                    waited: now - started,
                });
            }
            // Counted only once the marker was seen behind: the query is really waiting.
            in_flight.get_or_insert_with(|| self.metrics.enter());
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }
}
