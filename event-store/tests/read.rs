//! Reading streams (paged, both directions), categories and `$all`.

use event_store::{
    AllPosition, Direction, ExpectedVersion, NewEvent, StreamId, testing::TestDatabase,
};
use serde_json::json;

async fn seed(db: &TestDatabase) {
    let store = db.store();
    for (stream, n) in [("cart-1", 5), ("order-1", 3), ("cart-2", 2)] {
        let events: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent::new("Seeded", json!({ "i": i })))
            .collect();
        store
            .append(
                &StreamId::parse(stream).unwrap(),
                ExpectedVersion::NoStream,
                &events,
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_stream_pages_forward_and_backward() {
    let db = TestDatabase::create(4).await;
    seed(&db).await;
    let store = db.store();
    let s = StreamId::parse("cart-1").unwrap();
    let versions = |events: Vec<event_store::RecordedEvent>| {
        events.iter().map(|e| e.version).collect::<Vec<_>>()
    };
    let page = store
        .read_stream(&s, Direction::Forward, 0, 2)
        .await
        .unwrap();
    assert_eq!(versions(page), [0, 1]);
    let page = store
        .read_stream(&s, Direction::Forward, 2, 2)
        .await
        .unwrap();
    assert_eq!(versions(page), [2, 3]);
    let page = store
        .read_stream(&s, Direction::Forward, 4, 2)
        .await
        .unwrap();
    assert_eq!(versions(page), [4]);
    let page = store
        .read_stream(&s, Direction::Backward, u64::MAX, 3)
        .await
        .unwrap();
    assert_eq!(versions(page), [4, 3, 2]);
    let page = store
        .read_stream(&s, Direction::Backward, 1, 3)
        .await
        .unwrap();
    assert_eq!(versions(page), [1, 0]);
    let unknown = StreamId::parse("cart-none").unwrap();
    assert!(
        store
            .read_stream(&unknown, Direction::Forward, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_category_read_returns_only_its_streams_in_position_order() {
    let db = TestDatabase::create(4).await;
    seed(&db).await;
    let store = db.store();
    let carts = store.read_category("cart", 0, 100).await.unwrap();
    assert_eq!(carts.len(), 7);
    assert!(carts.iter().all(|e| e.stream_id.category() == "cart"));
    assert!(carts.windows(2).all(|w| w[0].position < w[1].position));
    let rest = store
        .read_category("cart", carts[3].position, 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 3);
}

#[tokio::test]
async fn all_pages_from_a_checkpoint_cover_the_log_once() {
    let db = TestDatabase::create(4).await;
    seed(&db).await;
    let store = db.store();
    let mut from = AllPosition::START;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let slice = store.read_all(from, 4).await.unwrap();
        if slice.events.is_empty() {
            // The watermark is server-wide: another test's open transaction holds it back for
            // a moment. Held back is not the end.
            if !slice.held_back {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "held back for 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        }
        from = slice.next;
        seen.extend(slice.events.into_iter().map(|e| e.position));
    }
    assert_eq!(seen.len(), 10);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn a_stream_and_a_command_are_read_together() {
    let db = TestDatabase::create(4).await;
    let store = db.store();
    let s = StreamId::parse("cart-cmd").unwrap();
    let command = uuid::Uuid::new_v4();
    let meta = event_store::EventMetadata {
        command_id: Some(command),
        ..Default::default()
    };
    let plain = |i: u64| NewEvent::new("Seeded", json!({ "i": i }));
    let seeded: Vec<NewEvent> = (0..1_005).map(plain).collect();
    store
        .append(&s, ExpectedVersion::NoStream, &seeded)
        .await
        .unwrap();

    // Not executed yet: events from the requested version, no command.
    let (events, executed) = store.read_stream_for_command(&s, 3, command).await.unwrap();
    assert_eq!(events.len(), 1_002, "pages past the first thousand");
    assert_eq!(events.first().unwrap().version, 3);
    assert!(events.windows(2).all(|w| w[1].version == w[0].version + 1));
    assert_eq!(executed, None);

    let done = store
        .append(
            &s,
            ExpectedVersion::Exact(1_004),
            &[
                plain(0).with_metadata(meta.clone()),
                plain(1).with_metadata(meta),
            ],
        )
        .await
        .unwrap();
    let (events, executed) = store
        .read_stream_for_command(&s, 1_005, command)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    let executed = executed.expect("the command is found");
    assert_eq!(
        (
            executed.stream_id.as_str(),
            executed.version,
            executed.position
        ),
        ("cart-cmd", done.current_version, done.last_position())
    );
    // Up to date: no events, the command still found (the long path agrees too).
    let (events, again) = store
        .read_stream_for_command(&s, 1_007, command)
        .await
        .unwrap();
    assert!(events.is_empty());
    assert_eq!(again.as_ref(), Some(&executed));
    let (_, long) = store.read_stream_for_command(&s, 0, command).await.unwrap();
    assert_eq!(long, Some(executed));
}
