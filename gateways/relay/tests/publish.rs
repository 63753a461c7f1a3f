//! The relay in-process against the real PostgreSQL and broker: everything in the log arrives,
//! in stream order, in the documented message format, and the checkpoint ends on the last event.
#![recursion_limit = "512"]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use relay::Relay;
use rocketmq::{EventTopics, decode_event, property};
use tokio::time::Instant;

use support::{
    Collector, World, append_interleaved, assert_complete_in_stream_order, start_relay, stop_relay,
    streams,
};

const BUDGET: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_in_stream_order_with_its_properties_and_the_checkpoint_is_the_last() {
    support::init_logging();
    let deadline = Instant::now() + BUDGET;
    let mut world = World::create().await;
    world.settings.relay.batch_size = 64;
    let streams = streams(9);
    // A backlog before the relay starts, and more while it runs live: 9 × 40 = 360 events.
    append_interleaved(&world.store, &streams, 0..20, 3).await;
    let collector = Collector::start(&world.settings, &world.prefix).await;

    let relay = Relay::build(world.settings.clone())
        .await
        .expect("relay builds");
    let (metrics, stop, running) = start_relay(relay);
    append_interleaved(&world.store, &streams, 20..40, 1).await;
    let total = world.db.event_count().await as usize;
    assert_eq!(total, 360);

    support::wait_until(deadline, "every event arrived", || async {
        collector.distinct() == total
    })
    .await;
    world.until_checkpoint_at_log_end(deadline).await;
    assert_eq!(metrics.active.get(), 1);
    assert!(metrics.published_events.get() >= total as u64);

    let received = collector.received();
    let duplicates = assert_complete_in_stream_order(&received, &streams, 40);
    assert_eq!(duplicates, 0, "a healthy run publishes each event once");

    // The documented format: topic per category, tag = type, key = event id, properties.
    let topics = EventTopics::new(world.prefix.clone());
    let log = world.db.all_events().await;
    let by_id: HashMap<String, _> = log.iter().map(|e| (e.event_id.to_string(), e)).collect();
    for message in &received {
        let event = by_id[&message.keys[0]];
        assert_eq!(message.topic, topics.topic(event.stream_id.category()));
        assert_eq!(message.tag.as_deref(), Some(event.event_type.as_str()));
        assert_eq!(decode_event(message).expect("decodes"), *event);
        let meta = &event.metadata;
        let expected = [
            (property::POSITION, Some(event.position.to_string())),
            (property::TX_ID, Some(event.tx_id.to_string())),
            (property::STREAM_ID, Some(event.stream_id.to_string())),
            (property::VERSION, Some(event.version.to_string())),
            (
                property::CORRELATION_ID,
                meta.correlation_id.map(|id| id.to_string()),
            ),
            (
                property::CAUSATION_ID,
                meta.causation_id.map(|id| id.to_string()),
            ),
            (property::TRACEPARENT, meta.traceparent.clone()),
        ];
        for (name, value) in expected {
            assert_eq!(message.properties.get(name).cloned(), value, "{name}");
        }
    }

    stop_relay(stop, running, deadline).await;
    assert_eq!(metrics.active.get(), 0);
    collector.stop().await;
}

/// Throughput of a backlog: `cargo nextest run -p relay --run-ignored only --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_backlog_throughput() {
    let deadline = Instant::now() + Duration::from_secs(300);
    let world = World::create().await;
    let streams = streams(50);
    append_interleaved(&world.store, &streams, 0..400, 20).await;
    let total = world.db.event_count().await;
    let last = world.last_position().await;
    let topics = EventTopics::new(world.prefix.clone());
    let relay = Relay::build(world.settings.clone())
        .await
        .expect("relay builds");
    let (metrics, stop, running) = start_relay(relay);
    // Topic creation is part of start-up: time from the first publish on.
    support::wait_until(deadline, "the first batch is published", || async {
        metrics.batches.get() > 0
    })
    .await;
    let started = Instant::now();
    let first = metrics.published_events.get();
    support::wait_until(
        deadline,
        "the checkpoint reaches the last event",
        || async { world.checkpoint().await == Some(last) },
    )
    .await;
    let elapsed = started.elapsed();
    let published = metrics.published_events.get() - first;
    eprintln!(
        "{published} of {total} events in {elapsed:?}: {:.0} events/s, {} batches, topics {}-*",
        published as f64 / elapsed.as_secs_f64(),
        metrics.batches.get(),
        topics.prefix()
    );
    stop_relay(stop, running, deadline).await;
}
