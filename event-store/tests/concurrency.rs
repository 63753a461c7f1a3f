//! Many appenders racing on one stream with `Exact`: one winner per version, no holes, no
//! duplicates.

use std::collections::BTreeMap;

use event_store::{
    CurrentVersion, ExpectedVersion, NewEvent, StoreError, StreamId, testing::TestDatabase,
};
use serde_json::json;
use uuid::Uuid;

const APPENDERS: usize = 50;
const TARGET_EVENTS: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_exact_appenders_get_exactly_one_winner_per_version() {
    let db = TestDatabase::create(24).await;
    let store = db.store();
    let stream = StreamId::parse("product-hot").unwrap();
    let start = tokio::sync::Barrier::new(APPENDERS);
    let start = std::sync::Arc::new(start);
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|appender| {
            let (store, stream, start) = (store.clone(), stream.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut wins: Vec<(u64, Uuid)> = Vec::new();
                let mut conflicts = 0u32;
                loop {
                    let expected = match store.stream_version(&stream).await.unwrap() {
                        CurrentVersion::NoStream => ExpectedVersion::NoStream,
                        CurrentVersion::At(v) if v + 1 >= TARGET_EVENTS => break,
                        CurrentVersion::At(v) => ExpectedVersion::Exact(v),
                    };
                    let e = NewEvent::new("Bumped", json!({ "appender": appender }));
                    match store
                        .append(&stream, expected, std::slice::from_ref(&e))
                        .await
                    {
                        Ok(r) => wins.push((r.current_version, e.event_id)),
                        Err(StoreError::WrongExpectedVersion { .. }) => conflicts += 1,
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
                (wins, conflicts)
            })
        })
        .collect();

    let mut winners: BTreeMap<u64, Uuid> = BTreeMap::new();
    let mut conflicts = 0;
    for t in tasks {
        let (wins, c) = t.await.unwrap();
        conflicts += c;
        for (version, id) in wins {
            assert!(
                winners.insert(version, id).is_none(),
                "two appenders won version {version}"
            );
        }
    }
    assert!(conflicts > 0, "the test must actually produce conflicts");
    let events = store.read_stream_to_end(&stream).await.unwrap();
    assert_eq!(events.len() as u64, TARGET_EVENTS);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.version, i as u64, "versions are contiguous from 0");
        assert_eq!(
            winners.get(&e.version),
            Some(&e.event_id),
            "the reported winner was written"
        );
    }
    assert_eq!(
        winners.len() as u64,
        TARGET_EVENTS,
        "every success is in the stream"
    );
    assert_eq!(
        db.event_count().await as u64,
        TARGET_EVENTS,
        "no extra events anywhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_any_appenders_never_conflict_and_never_collide() {
    let db = TestDatabase::create(16).await;
    let store = db.store();
    let stream = StreamId::parse("product-any").unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, stream) = (store.clone(), stream.clone());
            tokio::spawn(async move {
                for _ in 0..20 {
                    store
                        .append(
                            &stream,
                            ExpectedVersion::Any,
                            &[NewEvent::new("Any", json!({}))],
                        )
                        .await
                        .expect("Any never conflicts");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let events = store.read_stream_to_end(&stream).await.unwrap();
    assert_eq!(events.len(), 320);
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.version == i as u64)
    );
}
