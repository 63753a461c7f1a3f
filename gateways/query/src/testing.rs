//! Test support for the query services and the HTTP gateway in front of them (feature
//! `testing`): a checkout story ([`projections::testing::story`]) written to a fresh event log
//! and applied by the real projection runtime (markers included) to PostgreSQL and a Redis prefix
//! of the test's own, a real query server over it, and tokens and requests for its callers.

use std::{net::SocketAddr, time::Duration};

use aggregates::{Aggregate, CustomerId};
use auth::{AuthConfig, ROLE_ADMIN, ROLE_CUSTOMER};
use event_store::{Direction, RecordedEvent, StreamId, testing::TestDatabase};
use projections::{
    read_models,
    runtime::{ProjectionMetrics, ProjectionRuntime, RetryPolicy},
    testing::{
        Log, RedisSpace,
        checkouts::{self, CheckoutStory},
        database,
        story::{self, Story},
    },
};
use server::Registry;
use settings::ExposeSecret;
use tonic::{Code, Request, Status, transport::Channel};

use crate::{App, QueryConfig, cache::CacheMetrics, consistency::ConsistencyMetrics};

/// A projected story and a query server over it.
pub struct World {
    _db: TestDatabase,
    /// The story's event log; a test appends more through [`projections::testing::Stream::run`].
    pub log: Log,
    /// The Redis key prefix of the read models; a test may make Redis lose them
    /// ([`RedisSpace::lose`]).
    pub redis: RedisSpace,
    /// The runtime that built the read models; [`apply`] feeds it what a test appends.
    pub runtime: ProjectionRuntime,
    /// The ids of the story.
    pub story: Story,
    /// A client channel to the query server.
    pub channel: Channel,
    /// The query server's cache counters.
    pub cache: CacheMetrics,
    /// The query server's `query_consistency_waits_in_flight` gauge.
    pub consistency: ConsistencyMetrics,
    _stop: tokio::sync::oneshot::Sender<()>,
    /// The query server's address.
    pub query_addr: SocketAddr,
}

impl World {
    /// The story written and fully projected; a query server with a `wait` consistency bound.
    pub async fn start(wait: Duration) -> Self {
        let (db, mut log) = database().await;
        let story = story::write(&mut log).await;
        let redis = RedisSpace::new().await;
        let client = redis::Client::open(db.settings.redis.url.expose_secret()).unwrap();
        let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
        let runtime = ProjectionRuntime::new(
            db.pool.clone(),
            log.store.clone(),
            manager,
            redis.prefix.clone(),
            RetryPolicy {
                max_attempts: 1,
                retry_delay: Duration::from_millis(1),
            },
            ProjectionMetrics::register(&mut Registry::default()),
        );
        // As a worker starting on this log does: every read model built from it.
        for projection in read_models::all() {
            runtime.ensure_built(&projection).await.expect("built");
        }

        let mut settings = db.settings.clone();
        settings.projections.redis_prefix = redis.prefix.clone();
        let config = QueryConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            metrics_listen: None,
            settings,
            auth: AuthConfig::development(),
            cache_capacity: 1000,
            cache_ttl: Duration::from_secs(60),
            consistency_wait: wait,
            max_request_bytes: 16 * 1024,
        };
        let app = App::build(config).await.expect("query service builds");
        let address = app.local_addr();
        let query_addr = address;
        let cache = app.cache_metrics();
        let consistency = app.consistency_metrics();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .expect("connect to the query service");
        log.appended = 0;
        Self {
            _db: db,
            log,
            redis,
            runtime,
            story,
            channel,
            cache,
            consistency,
            _stop: stop,
            query_addr,
        }
    }
}

impl World {
    /// Writes the checkout story ([`checkouts::write`]) of the story's Alice and Bob and
    /// projects it, as the workers would.
    pub async fn write_checkouts(&mut self) -> CheckoutStory {
        let checkouts = checkouts::write(&mut self.log, self.story.alice, self.story.bob).await;
        let events = self
            .log
            .store
            .read_category(aggregates::Checkout::CATEGORY, 0, 10_000)
            .await
            .expect("read the checkouts");
        apply(&self.runtime, &events).await;
        checkouts
    }

    /// Returns once `count` queries are waiting for their consistency token (the service found
    /// the read model behind it); panics after five seconds.
    pub async fn until_queries_wait(&self, count: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.consistency.waits_in_flight() != count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} queries should be waiting for their token, {} are",
                self.consistency.waits_in_flight()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The events of `stream_id` from version `from` on, as stored (to [`apply`] them).
    pub async fn events_from(&self, stream_id: &str, from: u64) -> Vec<RecordedEvent> {
        self.log
            .store
            .read_stream(
                &StreamId::parse(stream_id).unwrap(),
                Direction::Forward,
                from,
                100,
            )
            .await
            .unwrap()
    }
}

/// Applies `events` to every read model following their categories, as the workers would.
pub async fn apply(runtime: &ProjectionRuntime, events: &[RecordedEvent]) {
    for projection in read_models::all() {
        for event in events {
            if projection
                .categories()
                .contains(&event.stream_id.category())
            {
                runtime.apply(&projection, event).await.expect("applies");
            }
        }
    }
}

pub use auth::testing::token;

/// A customer's token.
pub fn customer(id: CustomerId) -> String {
    token(&id.to_string(), &[ROLE_CUSTOMER])
}

/// An operator's token (`admin`).
pub fn admin() -> String {
    token("ops", &[ROLE_ADMIN])
}

/// `message` with `authorization: Bearer <bearer>` ([`auth::testing::authed`], bearer first).
pub fn authed<T>(bearer: &str, message: T) -> Request<T> {
    auth::testing::authed(message, bearer)
}

/// Asserts `result` failed with `code` (`what` names the call in the panic), and returns the
/// status.
pub fn assert_code<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    what: &str,
) -> Status {
    let status = result.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    status
}
