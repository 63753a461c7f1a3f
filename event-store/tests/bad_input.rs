//! Bad input is rejected with a typed error and nothing is written.

use event_store::{ExpectedVersion, NewEvent, StoreError, StreamId, testing::TestDatabase};
use serde_json::json;

fn stream() -> StreamId {
    StreamId::parse("cart-bad").unwrap()
}

async fn rejected(db: &TestDatabase, events: &[NewEvent]) -> StoreError {
    let err = db
        .store()
        .append(&stream(), ExpectedVersion::Any, events)
        .await
        .expect_err("bad input must be rejected");
    assert_eq!(db.event_count().await, 0, "nothing written for {err:?}");
    err
}

#[tokio::test]
async fn an_empty_batch_is_rejected() {
    let db = TestDatabase::create(2).await;
    assert!(matches!(rejected(&db, &[]).await, StoreError::EmptyBatch));
}

#[tokio::test]
async fn malformed_stream_ids_never_reach_the_store() {
    for bad in ["", "cart", "Cart-1", "-1", "cart-", "ca rt-1", "cart-\u{0}"] {
        assert!(StreamId::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn non_object_data_is_rejected_and_the_whole_batch_with_it() {
    let db = TestDatabase::create(2).await;
    for data in [
        json!([1, 2]),
        json!("text"),
        json!(null),
        json!(42),
        json!(true),
    ] {
        let batch = [
            NewEvent::new("Fine", json!({})),
            NewEvent::new("Broken", data),
        ];
        let err = rejected(&db, &batch).await;
        assert!(matches!(err, StoreError::InvalidEvent { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn an_event_over_the_size_limit_is_rejected() {
    let db = TestDatabase::create(2).await;
    let big = "x".repeat(1024 * 1024);
    let err = rejected(&db, &[NewEvent::new("Huge", json!({ "blob": big }))]).await;
    assert!(
        matches!(err, StoreError::EventTooLarge { limit, size, .. } if limit == 1024 * 1024 && size > limit),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_size_limit_is_configurable() {
    let db = TestDatabase::create(2).await;
    let mut settings = db.settings.event_store.clone();
    settings.max_event_bytes = 100;
    let store = event_store::EventStore::new(db.pool.clone(), settings);
    let err = store
        .append(
            &stream(),
            ExpectedVersion::Any,
            &[NewEvent::new("Medium", json!({ "blob": "y".repeat(200) }))],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::EventTooLarge { limit: 100, .. }),
        "{err:?}"
    );
    store
        .append(
            &stream(),
            ExpectedVersion::Any,
            &[NewEvent::new("Small", json!({ "blob": "y" }))],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_duplicate_event_id_within_a_batch_is_rejected() {
    let db = TestDatabase::create(2).await;
    let e = NewEvent::new("Twice", json!({}));
    let err = rejected(&db, &[e.clone(), e.clone()]).await;
    assert!(matches!(err, StoreError::DuplicateEventId(id) if id == e.event_id));
}

#[tokio::test]
async fn blank_types_bad_schema_versions_and_nul_characters_are_rejected() {
    let db = TestDatabase::create(2).await;
    for e in [
        NewEvent::new("", json!({})),
        NewEvent::new("   ", json!({})),
        NewEvent::new("T".repeat(200), json!({})),
        NewEvent::new("Zero", json!({})).with_schema_version(0),
        NewEvent::new("Nul", json!({ "s": "a\u{0}b" })),
    ] {
        let err = rejected(&db, &[e]).await;
        assert!(matches!(err, StoreError::InvalidEvent { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_batch_over_the_event_count_limit_is_rejected() {
    let db = TestDatabase::create(2).await;
    let batch: Vec<NewEvent> = (0..=event_store::MAX_BATCH_EVENTS)
        .map(|_| NewEvent::new("Many", json!({})))
        .collect();
    let err = rejected(&db, &batch).await;
    assert!(matches!(err, StoreError::BatchTooLarge { .. }), "{err:?}");
}
