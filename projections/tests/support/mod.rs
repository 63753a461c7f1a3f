//! Test support for the runtime tests: two small test projections (one PostgreSQL, one Redis)
//! over category `ledger`, and a harness with a fresh database, a Redis key prefix and broker
//! names of its own per test.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId};
use futures::future::BoxFuture;
use projections::runtime::{ProjectionMetrics, ProjectionRuntime, RetryPolicy};
use projections::{
    KeySpace, PostgresProjection, Projection, ProjectionError, RedisProjection, RedisWrite,
};
use serde_json::{Value, json};
use server::Registry;
use settings::ExposeSecret;
use uuid::Uuid;

/// Tries before parking in these tests.
pub const MAX_ATTEMPTS: u32 = 3;

/// Shared switches: whether poison events still fail, and how often each model was tried on one.
#[derive(Default)]
pub struct Poison {
    pub fixed: AtomicBool,
    pub postgres_tries: AtomicU32,
    pub redis_tries: AtomicU32,
}

fn is_poison(event: &RecordedEvent, poison: &Poison) -> bool {
    event.data["poison"] == json!(true) && !poison.fixed.load(Ordering::SeqCst)
}

/// The tables of [`LedgerTable`].
pub const LEDGER_DDL: &str = "CREATE TABLE test_ledger_entries (stream_id text, version bigint, \
     event_type text NOT NULL, PRIMARY KEY (stream_id, version)); \
     CREATE TABLE test_ledger_totals (stream_id text PRIMARY KEY, total bigint NOT NULL);";

/// Records every event in `test_ledger_entries` (primary key stream + version, so applying one
/// twice would fail loudly) and sums amounts per stream in `test_ledger_totals`.
pub struct LedgerTable(pub Arc<Poison>);

impl PostgresProjection for LedgerTable {
    fn name(&self) -> &'static str {
        "test_ledger"
    }
    fn categories(&self) -> &'static [&'static str] {
        &["ledger"]
    }
    fn tables(&self) -> &'static [&'static str] {
        &["test_ledger_entries", "test_ledger_totals"]
    }
    fn ddl(&self) -> &'static str {
        LEDGER_DDL
    }
    fn apply<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if is_poison(event, &self.0) {
                self.0.postgres_tries.fetch_add(1, Ordering::SeqCst);
                return Err(ProjectionError::Inconsistent("poisoned".into()));
            }
            sqlx::query(
                "INSERT INTO test_ledger_entries (stream_id, version, event_type) \
                 VALUES ($1, $2, $3)",
            )
            .bind(event.stream_id.as_str())
            .bind(event.version as i64)
            .bind(&event.event_type)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO test_ledger_totals (stream_id, total) VALUES ($1, $2) \
                 ON CONFLICT (stream_id) DO UPDATE \
                 SET total = test_ledger_totals.total + excluded.total",
            )
            .bind(event.stream_id.as_str())
            .bind(event.data["amount"].as_i64().unwrap_or(0))
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}

/// Records each applied version in sorted set `log:<stream>` (score = version) and the stream's
/// balance (carried by the event, see [`Harness::append`]) in hash `totals`: absolute writes
/// only, as the runtime requires.
pub struct LedgerCache(pub Arc<Poison>);

impl RedisProjection for LedgerCache {
    fn name(&self) -> &'static str {
        "test_ledger_cache"
    }
    fn categories(&self) -> &'static [&'static str] {
        &["ledger"]
    }
    fn writes(
        &self,
        keys: &KeySpace,
        event: &RecordedEvent,
    ) -> Result<Vec<RedisWrite>, ProjectionError> {
        if is_poison(event, &self.0) {
            self.0.redis_tries.fetch_add(1, Ordering::SeqCst);
            return Err(ProjectionError::Inconsistent("poisoned".into()));
        }
        let balance = event.data["balance"].as_i64().unwrap_or(0);
        Ok(vec![
            RedisWrite::new(
                "ZADD",
                keys.key(&format!("log:{}", event.stream_id)),
                [event.version.to_string(), event.version.to_string()],
            ),
            RedisWrite::new(
                "HSET",
                keys.key("totals"),
                [event.stream_id.to_string(), balance.to_string()],
            ),
        ])
    }
}

/// A fresh database, Redis prefix and broker names, both test projections and a runtime.
pub struct Harness {
    pub db: TestDatabase,
    pub store: EventStore,
    pub run: String,
    pub poison: Arc<Poison>,
    pub table: Projection,
    pub cache: Projection,
    pub runtime: Arc<ProjectionRuntime>,
    pub registry: Option<Registry>,
    pub redis: redis::aio::ConnectionManager,
}

impl Harness {
    /// A harness whose models are built (from the still empty log), as a worker has them once
    /// it consumes: applies may go straight to them.
    pub async fn new() -> Self {
        let harness = Self::unbuilt().await;
        for projection in harness.both() {
            harness
                .runtime
                .ensure_built(&projection)
                .await
                .expect("build");
        }
        harness
    }

    /// A harness whose models were never built here: no progress row, no Redis epoch.
    pub async fn unbuilt() -> Self {
        let db = TestDatabase::create(8).await;
        sqlx::raw_sql(LEDGER_DDL)
            .execute(&db.pool)
            .await
            .expect("test tables");
        let store = db.store();
        let run = Uuid::new_v4().simple().to_string()[..12].to_owned();
        let client = redis::Client::open(db.settings.redis.url.expose_secret()).expect("redis url");
        let redis = redis::aio::ConnectionManager::new(client)
            .await
            .expect("Redis is reachable (run scripts/setup)");
        let poison = Arc::new(Poison::default());
        let mut registry = Registry::default();
        let metrics = ProjectionMetrics::register(&mut registry);
        let runtime = Arc::new(ProjectionRuntime::new(
            db.pool.clone(),
            store.clone(),
            redis.clone(),
            format!("test-{run}"),
            RetryPolicy {
                max_attempts: MAX_ATTEMPTS,
                retry_delay: Duration::from_millis(10),
            },
            metrics,
        ));
        Self {
            table: Projection::Postgres(Arc::new(LedgerTable(Arc::clone(&poison)))),
            cache: Projection::Redis(Arc::new(LedgerCache(Arc::clone(&poison)))),
            db,
            store,
            run,
            poison,
            runtime,
            registry: Some(registry),
            redis,
        }
    }

    /// Writes the epoch of the Redis model `name`, as a finished rebuild does, without replaying
    /// anything: for test models the harness did not build.
    pub async fn mark_redis_built(&self, name: &str) {
        redis::cmd("SET")
            .arg(self.runtime.key_space(name).key("epoch"))
            .arg("test")
            .query_async::<()>(&mut self.redis.clone())
            .await
            .expect("set epoch");
    }

    pub fn both(&self) -> [Projection; 2] {
        [self.table.clone(), self.cache.clone()]
    }

    /// Appends one `Deposited` event per amount (`None`: a poison event of 1000) to
    /// `ledger-<id>`, each carrying the stream's new balance.
    pub async fn append(&self, id: &str, amounts: &[Option<i64>]) -> Vec<RecordedEvent> {
        let stream = StreamId::new("ledger", id).expect("stream id");
        let earlier = self.store.read_stream_from(&stream, 0).await.expect("read");
        let before = earlier.len();
        let mut balance: i64 = earlier
            .iter()
            .map(|event| event.data["amount"].as_i64().unwrap_or(0))
            .sum();
        let events: Vec<NewEvent> = amounts
            .iter()
            .map(|amount| {
                balance += amount.unwrap_or(1000);
                match amount {
                    Some(amount) => {
                        NewEvent::new("Deposited", json!({ "amount": amount, "balance": balance }))
                    }
                    None => NewEvent::new(
                        "Deposited",
                        json!({ "amount": 1000, "balance": balance, "poison": true }),
                    ),
                }
            })
            .collect();
        self.store
            .append(&stream, ExpectedVersion::Any, &events)
            .await
            .expect("append");
        self.store
            .read_stream_from(&stream, before as u64)
            .await
            .expect("read back")
    }

    /// Total of `ledger-<id>` in the PostgreSQL model.
    pub async fn pg_total(&self, id: &str) -> Option<i64> {
        sqlx::query_scalar("SELECT total FROM test_ledger_totals WHERE stream_id = $1")
            .bind(format!("ledger-{id}"))
            .fetch_optional(&self.db.pool)
            .await
            .expect("read total")
    }

    /// Versions of `ledger-<id>` in the PostgreSQL model.
    pub async fn pg_versions(&self, id: &str) -> Vec<i64> {
        sqlx::query_scalar(
            "SELECT version FROM test_ledger_entries WHERE stream_id = $1 ORDER BY version",
        )
        .bind(format!("ledger-{id}"))
        .fetch_all(&self.db.pool)
        .await
        .expect("read entries")
    }

    /// Versions of `ledger-<id>` applied to the Redis model, in version order.
    pub async fn redis_versions(&self, id: &str) -> Vec<i64> {
        let key = self
            .runtime
            .live_key_space("test_ledger_cache")
            .await
            .expect("epoch")
            .key(&format!("log:ledger-{id}"));
        redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.redis.clone())
            .await
            .expect("zrange")
    }

    /// Parked (stream, version, attempts) of one projection.
    pub async fn parked(&self, projection: &Projection) -> Vec<(String, Option<u64>, i32)> {
        self.runtime
            .parked(Some(projection.name()))
            .await
            .expect("list parked")
            .into_iter()
            .map(|row| (row.stream_id, row.version, row.attempts))
            .collect()
    }

    /// Settings for a worker on this harness: its own topics, groups and metrics port.
    pub fn settings(&self) -> settings::Settings {
        let mut settings = self.db.settings.clone();
        settings.rocketmq.topic_prefix = format!("pt-{}", self.run);
        settings.rocketmq.queues = 4;
        settings.projections.group_prefix = format!("pt-{}", self.run);
        settings.projections.redis_prefix = format!("test-{}", self.run);
        settings.projections.metrics_listen = "127.0.0.1:0".to_owned();
        settings
    }

    /// Deletes every Redis key of this harness.
    pub async fn drop_redis_keys(&self) {
        let mut redis = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("test-{}:*", self.run))
            .query_async(&mut redis)
            .await
            .expect("keys");
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut redis)
                .await
                .expect("del");
        }
    }
}

/// The snapshot of `projection`.
pub async fn snapshot(runtime: &ProjectionRuntime, projection: &Projection) -> Value {
    runtime.snapshot(projection).await.expect("snapshot")
}
