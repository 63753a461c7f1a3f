//! Appends against the real PostgreSQL: expected-version modes, idempotent retries, bad input.

use event_store::{
    CurrentVersion, EventMetadata, ExpectedVersion, NewEvent, StoreError, StreamId,
    testing::TestDatabase,
};
use serde_json::json;
use uuid::Uuid;

fn event(n: u32) -> NewEvent {
    NewEvent::new("ThingHappened", json!({ "n": n }))
}

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).unwrap()
}

#[tokio::test]
async fn append_returns_last_version_and_each_position() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-1");
    let first = store
        .append(&s, ExpectedVersion::NoStream, &[event(0), event(1)])
        .await
        .unwrap();
    assert_eq!(first.current_version, 1);
    assert_eq!(first.positions.len(), 2);
    assert!(first.positions[0] < first.positions[1]);
    let second = store
        .append(&s, ExpectedVersion::Exact(1), &[event(2)])
        .await
        .unwrap();
    assert_eq!(second.current_version, 2);
    assert!(second.positions[0] > first.positions[1]);
    assert_eq!(
        store.stream_version(&s).await.unwrap(),
        CurrentVersion::At(2)
    );
    let versions: Vec<u64> = store
        .read_stream_to_end(&s)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [0, 1, 2]);
}

#[tokio::test]
async fn any_appends_to_new_and_existing_streams() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-any");
    let r = store
        .append(&s, ExpectedVersion::Any, &[event(0)])
        .await
        .unwrap();
    assert_eq!(r.current_version, 0);
    let r = store
        .append(&s, ExpectedVersion::Any, &[event(1), event(2)])
        .await
        .unwrap();
    assert_eq!(r.current_version, 2);
}

#[tokio::test]
async fn no_stream_fails_with_the_actual_version_when_the_stream_exists() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("order-7");
    store
        .append(&s, ExpectedVersion::NoStream, &[event(0), event(1)])
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::NoStream, &[event(2)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongExpectedVersion { actual: CurrentVersion::At(1), expected: ExpectedVersion::NoStream, ref stream }
                if stream == "order-7"
        ),
        "{err:?}"
    );
    assert_eq!(db.event_count().await, 2, "nothing written by the conflict");
}

#[tokio::test]
async fn stream_exists_succeeds_on_an_existing_stream_and_fails_with_no_stream_otherwise() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("payment-1");
    let err = store
        .append(&s, ExpectedVersion::StreamExists, &[event(0)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongExpectedVersion {
                actual: CurrentVersion::NoStream,
                ..
            }
        ),
        "{err:?}"
    );
    store
        .append(&s, ExpectedVersion::NoStream, &[event(0)])
        .await
        .unwrap();
    let r = store
        .append(&s, ExpectedVersion::StreamExists, &[event(1)])
        .await
        .unwrap();
    assert_eq!(r.current_version, 1);
}

#[tokio::test]
async fn exact_fails_with_conflict_when_expected_version_is_stale() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("customer-3");
    let err = store
        .append(&s, ExpectedVersion::Exact(0), &[event(0)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongExpectedVersion {
                actual: CurrentVersion::NoStream,
                ..
            }
        ),
        "{err:?}"
    );
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            &[event(0), event(1), event(2)],
        )
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::Exact(1), &[event(3)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongExpectedVersion {
                actual: CurrentVersion::At(2),
                expected: ExpectedVersion::Exact(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(db.event_count().await, 3);
    store
        .append(&s, ExpectedVersion::Exact(2), &[event(3)])
        .await
        .unwrap();
}

#[tokio::test]
async fn re_appending_the_same_event_ids_returns_the_original_result_and_writes_nothing() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-idem");
    let batch = [event(0), event(1)];
    let original = store
        .append(&s, ExpectedVersion::NoStream, &batch)
        .await
        .unwrap();
    // Immediately, with the same (now stale) expectation: a retried command.
    let retry = store
        .append(&s, ExpectedVersion::NoStream, &batch)
        .await
        .unwrap();
    assert_eq!(retry, original);
    // Much later, after other appends moved the stream on and to other streams.
    store
        .append(&s, ExpectedVersion::Exact(1), &[event(2)])
        .await
        .unwrap();
    store
        .append(&stream("cart-other"), ExpectedVersion::Any, &[event(9)])
        .await
        .unwrap();
    let late = store
        .append(&s, ExpectedVersion::Any, &batch)
        .await
        .unwrap();
    assert_eq!(late, original);
    assert_eq!(db.event_count().await, 4);
}

#[tokio::test]
async fn a_batch_mixing_written_and_new_event_ids_is_rejected() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-mixed");
    let written = event(0);
    store
        .append(&s, ExpectedVersion::Any, std::slice::from_ref(&written))
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::Any, &[written, event(1)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::PartiallyWritten {
                written: 1,
                total: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(db.event_count().await, 1);
}

#[tokio::test]
async fn event_ids_written_to_another_stream_are_not_a_retry() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let e = event(0);
    store
        .append(
            &stream("cart-a"),
            ExpectedVersion::Any,
            std::slice::from_ref(&e),
        )
        .await
        .unwrap();
    let err = store
        .append(&stream("cart-b"), ExpectedVersion::Any, &[e])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(db.event_count().await, 1);
}

#[tokio::test]
async fn replaying_a_part_of_a_batch_is_a_conflict_not_a_success() {
    // The part's "original result" would be version 1 — a version no append ever returned.
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-part");
    let batch: Vec<NewEvent> = (0..3).map(event).collect();
    store
        .append(&s, ExpectedVersion::NoStream, &batch)
        .await
        .unwrap();
    for part in [&batch[..2], &batch[1..], &batch[2..]] {
        let err = store
            .append(&s, ExpectedVersion::Any, part)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyMismatch { .. }),
            "{err:?}"
        );
    }
    assert_eq!(db.event_count().await, 3);
}

#[tokio::test]
async fn the_ids_of_two_appends_replayed_as_one_batch_are_refused() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-two");
    let (a, b) = (event(0), event(1));
    store
        .append(&s, ExpectedVersion::NoStream, std::slice::from_ref(&a))
        .await
        .unwrap();
    store
        .append(&s, ExpectedVersion::Exact(0), std::slice::from_ref(&b))
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::Any, &[a, b])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(db.event_count().await, 2);
}

#[tokio::test]
async fn event_ids_replayed_with_another_command_fingerprint_are_refused() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("cart-fingerprint");
    let with = |fingerprint: &str, events: &[NewEvent]| -> Vec<NewEvent> {
        events
            .iter()
            .cloned()
            .map(|mut e| {
                e.metadata.command_fingerprint = Some(fingerprint.to_owned());
                e
            })
            .collect()
    };
    let batch: Vec<NewEvent> = (0..2).map(event).collect();
    let original = store
        .append(&s, ExpectedVersion::NoStream, &with("f-1", &batch))
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::NoStream, &with("f-2", &batch))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::FingerprintMismatch { .. }),
        "{err:?}"
    );
    // The same request again is still a retry.
    let again = store
        .append(&s, ExpectedVersion::NoStream, &with("f-1", &batch))
        .await
        .unwrap();
    assert_eq!(again, original);
    assert_eq!(db.event_count().await, 2);
}

#[tokio::test]
async fn concurrent_retries_of_one_append_write_it_once() {
    let db = TestDatabase::create(16).await;
    let store = db.store();
    let s = stream("cart-race");
    let batch: Vec<NewEvent> = (0..5).map(event).collect();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, s, batch) = (store.clone(), s.clone(), batch.clone());
            tokio::spawn(async move { store.append(&s, ExpectedVersion::NoStream, &batch).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    assert_eq!(db.event_count().await, 5);
}

#[tokio::test]
async fn metadata_and_payload_round_trip() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = stream("order-meta");
    let correlation = Uuid::new_v4();
    let meta = EventMetadata {
        correlation_id: Some(correlation),
        causation_id: Some(Uuid::new_v4()),
        actor: Some("customer:42".into()),
        command_id: Some(Uuid::new_v4()),
        command_fingerprint: Some("f1".into()),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        extra: Default::default(),
    };
    let e = NewEvent::new(
        "OrderPlaced",
        json!({"total": {"amount": 1250, "currency": "EUR"}}),
    )
    .with_metadata(meta.clone())
    .with_schema_version(2);
    store
        .append(&s, ExpectedVersion::NoStream, std::slice::from_ref(&e))
        .await
        .unwrap();
    let read = store.read_stream_to_end(&s).await.unwrap();
    assert_eq!(read.len(), 1);
    let r = &read[0];
    assert_eq!(
        (r.event_id, r.event_type.as_str(), r.schema_version),
        (e.event_id, "OrderPlaced", 2)
    );
    assert_eq!(r.data, e.data);
    assert_eq!(r.metadata, meta);
    assert_eq!(r.stream_id.category(), "order");
    let by_correlation: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE metadata->>'correlation_id' = $1")
            .bind(correlation.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(by_correlation, 1);
}
