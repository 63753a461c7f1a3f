//! The event log through PgBouncer in transaction mode (`docs/connection-budget.md`): concurrent
//! appends (the one-statement append and its locked retry) and the gap-safe `$all` reads a
//! subscription makes, from a pool that PgBouncer multiplexes over fewer server connections.
//!
//! Runs only when `APP_TEST_PGBOUNCER_URL` names a PgBouncer in front of the test server, as
//! `postgres://user@host:port` without a database (the test appends its own database's name);
//! without it the test returns at once. The PgBouncer needs `pool_mode = transaction`,
//! `ignore_startup_parameters = extra_float_digits, options` and — because sqlx names its prepared
//! statements — version 1.21 or later with `max_prepared_statements > 0`. With Debian 12's 1.18
//! this test fails with `prepared statement "sqlx_s_1" already exists` (42P05), with or without
//! sqlx's statement cache: the findings are in `docs/connection-budget.md`.

use std::{collections::HashSet, time::Duration};

use event_store::{AllPosition, EventStore, ExpectedVersion, NewEvent, StreamId, testing};
use serde_json::json;
use settings::SecretString;

const APPENDERS: usize = 8;
const EVENTS_EACH: u64 = 25;
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_and_all_reads_work_through_pgbouncer_in_transaction_mode() {
    let Ok(bouncer) = std::env::var("APP_TEST_PGBOUNCER_URL") else {
        eprintln!("APP_TEST_PGBOUNCER_URL is not set: not checked");
        return;
    };
    let db = testing::TestDatabase::create(2).await;
    let mut database = db.settings.database.clone();
    database.url = SecretString::from(format!("{}/{}", bouncer.trim_end_matches('/'), db.name));
    database.max_connections = 16;
    let store = EventStore::new(
        event_store::connect_lazy(&database).expect("bouncer url parses"),
        db.settings.event_store.clone(),
    );

    // Own streams with Exact (the one-statement append), plus one shared stream with Any, whose
    // lost races take the retry path (a transaction with an advisory transaction lock).
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|appender| {
            let store = store.clone();
            tokio::spawn(async move {
                let own = StreamId::parse(format!("bouncer-{appender}")).unwrap();
                let shared = StreamId::parse("bouncer-shared").unwrap();
                for version in 0..EVENTS_EACH {
                    let event = NewEvent::new("Appended", json!({ "n": version }));
                    let expected = match version {
                        0 => ExpectedVersion::NoStream,
                        v => ExpectedVersion::Exact(v - 1),
                    };
                    store
                        .append(&own, expected, std::slice::from_ref(&event))
                        .await
                        .expect("append through PgBouncer");
                    let event = NewEvent::new("Shared", json!({ "from": appender }));
                    store
                        .append(&shared, ExpectedVersion::Any, &[event])
                        .await
                        .expect("append to a contended stream through PgBouncer");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("appender task");
    }
    let total = APPENDERS * EVENTS_EACH as usize * 2;

    // The subscription: its LISTEN goes nowhere useful through transaction pooling, so it
    // must still deliver everything by its fallback poll of `read_all`.
    let mut subscription = store
        .subscribe_all(AllPosition::START)
        .await
        .expect("subscribe through PgBouncer");
    let mut seen = HashSet::new();
    while seen.len() < total {
        let event = tokio::time::timeout(DEADLINE, subscription.next())
            .await
            .expect("the subscription delivers within the deadline")
            .expect("subscription open")
            .expect("read through PgBouncer");
        seen.insert(event.event_id);
    }
    assert_eq!(seen.len(), total, "every appended event, once");
}
