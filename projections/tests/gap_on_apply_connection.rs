//! A gap is read from the log on the apply transaction's own connection: applying never needs a
//! second pooled connection while it holds one, so even a pool of one cannot starve itself.

mod support;

use std::time::Duration;

use event_store::EventStore;
use projections::runtime::{Applied, ProjectionMetrics, ProjectionRuntime, RetryPolicy};
use server::Registry;
use sqlx::postgres::PgPoolOptions;
use support::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_filled_with_a_pool_of_one_connection() {
    let h = Harness::new().await;
    let events = h.append("tight", &[Some(1), Some(2), Some(4)]).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with((*h.db.pool.connect_options()).clone())
        .await
        .expect("pool of one");
    let store = EventStore::new(pool.clone(), h.db.settings.event_store.clone());
    let runtime = ProjectionRuntime::new(
        pool,
        store,
        h.redis.clone(),
        format!("test-{}", h.run),
        RetryPolicy {
            max_attempts: 1,
            retry_delay: Duration::from_millis(10),
        },
        ProjectionMetrics::register(&mut Registry::default()),
    );

    // v0 and v1 never arrived: v2 brings them along from the log.
    let applied =
        tokio::time::timeout(Duration::from_secs(10), runtime.apply(&h.table, &events[2]))
            .await
            .expect("apply finishes")
            .expect("apply");
    assert_eq!(applied, Applied::Applied { filled: 2 });
    assert_eq!(h.pg_versions("tight").await, vec![0, 1, 2]);
    assert_eq!(h.pg_total("tight").await, Some(7));
}
