//! Gap-safe `$all` tailing against transactions that commit out of order or roll back.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use event_store::{
    AllPosition, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamId, Subscription,
    testing::TestDatabase,
};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use tokio::time::timeout;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(20);

async fn next(sub: &mut Subscription) -> RecordedEvent {
    timeout(DEADLINE, sub.next())
        .await
        .expect("the tailer delivers within the deadline")
        .expect("subscription open")
        .expect("no error")
}

/// Opens a transaction on its own connection that appends one event and stays open: a slow
/// appender that took its position before others committed.
async fn open_slow_append(db: &TestDatabase, stream: &str) -> (PgConnection, Uuid, u64) {
    let mut conn = PgConnection::connect_with(&db.pool.connect_options())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    let id = Uuid::new_v4();
    let position: i64 = sqlx::query_scalar(
        "INSERT INTO events (stream_id, category, stream_version, event_id, event_type, \
         schema_version, data, metadata) \
         VALUES ($1, split_part($1, '-', 1), 0, $2, 'Slow', 1, '{}', '{}') RETURNING position",
    )
    .bind(stream)
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (conn, id, position as u64)
}

async fn append_one(store: &EventStore, stream: &str) -> (Uuid, u64) {
    let e = NewEvent::new("Fast", json!({}));
    let r = store
        .append(
            &StreamId::parse(stream).unwrap(),
            ExpectedVersion::Any,
            std::slice::from_ref(&e),
        )
        .await
        .unwrap();
    (e.event_id, r.positions[0])
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    timeout(DEADLINE, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition within the deadline");
}

#[tokio::test]
async fn a_lower_position_committed_after_a_higher_one_is_still_delivered() {
    let db = TestDatabase::create(6).await;
    let store = db.store();
    let mut sub = store.subscribe_all(AllPosition::START).await.unwrap();

    let (mut slow, slow_id, slow_pos) = open_slow_append(&db, "cart-slow").await;
    let (fast_id, fast_pos) = append_one(&store, "cart-fast").await;
    assert!(
        slow_pos < fast_pos,
        "the open transaction holds the lower position"
    );

    // A position-based reader would now see the fast event alone and skip the slow one forever.
    let naive: Vec<u64> = store
        .read_category("cart", 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(naive, [fast_pos]);
    // The gap-safe reader holds back instead, and says so.
    let slice = store.read_all(AllPosition::START, 10).await.unwrap();
    assert!(slice.events.is_empty() && slice.held_back, "{slice:?}");
    wait_until(|| sub.status().held_back_by.is_some()).await;

    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    let first = next(&mut sub).await;
    let second = next(&mut sub).await;
    assert_eq!((first.event_id, second.event_id), (slow_id, fast_id));

    // Nothing is delivered twice: the next event is a new one.
    let (sentinel, _) = append_one(&store, "cart-sentinel").await;
    assert_eq!(next(&mut sub).await.event_id, sentinel);
    wait_until(|| sub.status().held_back_by.is_none()).await;
}

#[tokio::test]
async fn a_rolled_back_append_does_not_stall_the_tailer() {
    let db = TestDatabase::create(6).await;
    let store = db.store();
    let mut sub = store.subscribe_all(AllPosition::START).await.unwrap();

    let (mut slow, _, slow_pos) = open_slow_append(&db, "cart-doomed").await;
    let (fast_id, fast_pos) = append_one(&store, "cart-fast").await;
    assert!(slow_pos < fast_pos);
    sqlx::query("ROLLBACK").execute(&mut slow).await.unwrap();

    // No notification follows a rollback: the fallback poll must move the tailer on.
    assert_eq!(next(&mut sub).await.event_id, fast_id);
    let (sentinel, _) = append_one(&store, "cart-sentinel").await;
    assert_eq!(next(&mut sub).await.event_id, sentinel);
}

#[tokio::test]
async fn a_subscription_resumed_from_its_checkpoint_continues_without_gaps_or_repeats() {
    let db = TestDatabase::create(6).await;
    let store = db.store();
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(append_one(&store, &format!("order-{}", i % 4)).await.0);
    }
    let mut seen = Vec::new();
    let mut sub = store.subscribe_all(AllPosition::START).await.unwrap();
    let mut checkpoint = AllPosition::START;
    for _ in 0..12 {
        let e = next(&mut sub).await;
        checkpoint = e.all_position();
        seen.push(e.event_id);
    }
    drop(sub);
    let mut sub = store.subscribe_all(checkpoint).await.unwrap();
    for _ in 12..30 {
        seen.push(next(&mut sub).await.event_id);
    }
    assert_eq!(seen, ids, "single appender: $all order is append order");
}

const WRITERS: usize = 20;
const EVENTS_PER_WRITER: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_writers_of_five_hundred_events_are_each_tailed_exactly_once() {
    let db = TestDatabase::create(26).await;
    let store = db.store();
    let mut sub = store.subscribe_all(AllPosition::START).await.unwrap();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::with_capacity(EVENTS_PER_WRITER);
                for i in 0..EVENTS_PER_WRITER {
                    // Streams shared between writers, so appends to one stream race.
                    let stream = StreamId::parse(format!("load-{}", (w * 7 + i) % 37)).unwrap();
                    let e = NewEvent::new("Loaded", json!({ "writer": w, "i": i }));
                    store
                        .append(&stream, ExpectedVersion::Any, std::slice::from_ref(&e))
                        .await
                        .unwrap();
                    ids.push(e.event_id);
                }
                ids
            })
        })
        .collect();

    let total = WRITERS * EVENTS_PER_WRITER;
    let mut seen: Vec<RecordedEvent> = Vec::with_capacity(total);
    while seen.len() < total {
        seen.push(next(&mut sub).await);
    }
    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }

    let delivered: HashSet<Uuid> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(delivered.len(), total, "no event delivered twice");
    assert_eq!(delivered, written, "every written event delivered");
    assert!(
        seen.windows(2)
            .all(|w| w[0].all_position() < w[1].all_position()),
        "delivered in strictly increasing (tx_id, position) order"
    );
    let mut next_version: HashMap<String, u64> = HashMap::new();
    for e in &seen {
        let expected = next_version.entry(e.stream_id.to_string()).or_default();
        assert_eq!(
            e.version, *expected,
            "stream {} in version order",
            e.stream_id
        );
        *expected += 1;
    }
    // And nothing more arrives.
    let (sentinel, _) = append_one(&store, "load-sentinel").await;
    assert_eq!(next(&mut sub).await.event_id, sentinel);
}
