//! Test support for the read models, for this crate's tests and those of the query side (feature
//! `testing`): streams driven through the aggregates' `decide`, a real event log per test (a
//! fresh database of [`event_store::testing`]), a Redis key prefix per test, and applying
//! recorded events to read models without the runtime.
//!
//! [`story`] writes the checkout story every read model test replays; [`checkouts`] adds the
//! checkout process manager's streams for the `checkouts` read model.

use std::collections::BTreeMap;

use aggregates::{Aggregate, DomainEvent};
use chrono::{DateTime, TimeZone, Utc};
use event_store::{
    EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId, testing::TestDatabase,
};
use redis::aio::MultiplexedConnection;
use settings::{ExposeSecret, Settings};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{KeySpace, PostgresProjection, RedisProjection};

pub mod checkouts;
pub mod story;

/// A fixed instant plus `minutes`: event times never come from the clock.
pub fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

/// A fresh id.
pub fn id<T: From<Uuid>>() -> T {
    T::from(Uuid::new_v4())
}

/// One aggregate's stream: commands go through `decide`, their events into the log.
pub struct Stream<A: Aggregate> {
    /// The stream the events are appended to (`<category>-<id>`).
    pub stream_id: StreamId,
    state: A::State,
    version: Option<u64>,
}

impl<A: Aggregate> Stream<A>
where
    A::Error: std::fmt::Debug,
{
    /// The stream of aggregate `id`, not written yet.
    pub fn new(id: &A::Id) -> Self {
        Self {
            stream_id: StreamId::new(A::CATEGORY, id).expect("valid stream id"),
            state: A::State::default(),
            version: None,
        }
    }

    /// The aggregate's state after the events appended so far.
    pub fn state(&self) -> &A::State {
        &self.state
    }

    /// Decides `command`, appends the events with the expected version, folds them in.
    pub async fn run(&mut self, log: &mut Log, command: A::Command) -> Vec<A::Event> {
        let events = A::decide(&self.state, command).expect("command accepted");
        let new: Vec<NewEvent> = events
            .iter()
            .map(|event| {
                NewEvent::new(event.event_type(), event.to_data())
                    .with_schema_version(event.schema_version())
            })
            .collect();
        if new.is_empty() {
            return events;
        }
        let expected = self
            .version
            .map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let result = log
            .store
            .append(&self.stream_id, expected, &new)
            .await
            .expect("append");
        self.version = Some(result.current_version);
        log.appended += new.len();
        self.state = A::fold_from(std::mem::take(&mut self.state), &events);
        events
    }
}

/// The event log of a test, counting what was appended (the story marks phases by count).
pub struct Log {
    /// The test database's event log.
    pub store: EventStore,
    /// Events appended through [`Stream::run`] so far (a test may reset it to count a phase).
    pub appended: usize,
}

/// Every event of the log in position order, exactly as stored. Read per category rather than
/// through `$all`: the gap-safe `$all` watermark is server-wide, so other tests' open
/// transactions would hold it back, while every append of a test has committed already.
pub async fn all_events(store: &EventStore) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    for category in aggregates::CATEGORIES {
        let read = store.read_category(category, 0, 10_000).await;
        events.extend(read.expect("read category"));
    }
    events.sort_by_key(|event| event.position);
    events
}

/// Applies the events of the projection's categories, one transaction each.
pub async fn apply_pg(
    pool: &PgPool,
    projection: &dyn PostgresProjection,
    events: &[RecordedEvent],
) {
    for event in events {
        if !projection
            .categories()
            .contains(&event.stream_id.category())
        {
            continue;
        }
        let mut tx = pool.begin().await.expect("begin");
        projection
            .apply(&mut tx, event)
            .await
            .unwrap_or_else(|err| {
                panic!("{} applies {}: {err}", projection.name(), event.event_type)
            });
        tx.commit().await.expect("commit");
    }
}

/// A whole table as sorted JSON rows, to compare two databases.
pub async fn table_rows(pool: &PgPool, table: &str) -> Vec<serde_json::Value> {
    let mut rows: Vec<serde_json::Value> =
        sqlx::query_scalar(&format!("SELECT to_jsonb(t) FROM {table} t"))
            .fetch_all(pool)
            .await
            .expect("read table");
    rows.sort_by_key(ToString::to_string);
    rows
}

/// A Redis key prefix of the test's own on the shared server, deleted when dropped (also when
/// the test fails).
pub struct RedisSpace {
    /// The key prefix, `test-<uuid>`.
    pub prefix: String,
    /// A connection to the shared server.
    pub conn: MultiplexedConnection,
    client: redis::Client,
}

impl RedisSpace {
    /// A new prefix on the Redis server of the settings (`APP_REDIS__URL`, default the local one).
    pub async fn new() -> Self {
        let settings = Settings::load().expect("settings load");
        let client = redis::Client::open(settings.redis.url.expose_secret()).expect("redis url");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis is reachable (run scripts/setup)");
        Self {
            prefix: format!("test-{}", Uuid::new_v4().simple()),
            conn,
            client,
        }
    }

    /// The keys of `projection` under this prefix.
    pub fn keys(&self, projection: &dyn RedisProjection) -> KeySpace {
        KeySpace::new(&self.prefix, projection.name())
    }

    /// Runs the writes of each event of the projection's categories, in order.
    pub async fn apply(&mut self, projection: &dyn RedisProjection, events: &[RecordedEvent]) {
        let keys = self.keys(projection);
        for event in events {
            if !projection
                .categories()
                .contains(&event.stream_id.category())
            {
                continue;
            }
            let writes = projection.writes(&keys, event).unwrap_or_else(|err| {
                panic!("{} writes {}: {err}", projection.name(), event.event_type)
            });
            for write in writes {
                assert!(
                    write.args[1].starts_with(keys.base()),
                    "{write:?} leaves the key space"
                );
                let _: redis::Value = redis::cmd(&write.args[0])
                    .arg(&write.args[1..])
                    .query_async(&mut self.conn)
                    .await
                    .unwrap_or_else(|err| panic!("{write:?}: {err}"));
            }
        }
    }

    /// Every key of the prefix (without it) with its content, to compare two key spaces.
    pub async fn snapshot(&mut self) -> BTreeMap<String, String> {
        let mut snapshot = BTreeMap::new();
        for key in self.all_keys().await {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut self.conn)
                .await
                .unwrap();
            let content = match kind.as_str() {
                "hash" => {
                    let hash: BTreeMap<String, String> = redis::cmd("HGETALL")
                        .arg(&key)
                        .query_async(&mut self.conn)
                        .await
                        .unwrap();
                    format!("{hash:?}")
                }
                "zset" => {
                    let set: Vec<(String, f64)> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query_async(&mut self.conn)
                        .await
                        .unwrap();
                    format!("{set:?}")
                }
                other => panic!("unexpected key type {other} of {key}"),
            };
            snapshot.insert(key[self.prefix.len()..].to_owned(), content);
        }
        snapshot
    }

    async fn all_keys(&mut self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut self.conn)
            .await
            .expect("list keys")
    }

    /// Deletes every key of read model `name` under this prefix, its epoch included, in one
    /// command: what a Redis restart without persistence does to it.
    pub async fn lose(&mut self, name: &str) {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:{name}:*", self.prefix))
            .query_async(&mut self.conn)
            .await
            .expect("list keys");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut self.conn)
                .await
                .expect("delete keys");
        }
    }

    /// Deletes every key of the prefix (what dropping does; reads better at a test's end).
    pub fn cleanup(self) {}
}

impl Drop for RedisSpace {
    fn drop(&mut self) {
        let Ok(mut conn) = self.client.get_connection() else {
            return;
        };
        let pattern = format!("{}:*", self.prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

/// A fresh migrated database and its event log.
pub async fn database() -> (TestDatabase, Log) {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    (db, Log { store, appended: 0 })
}
