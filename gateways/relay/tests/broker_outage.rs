//! The relay against a RocketMQ name server and broker of this test's own: the broker is killed
//! (SIGKILL) while events keep coming, the relay retries with backoff without moving its
//! checkpoint, and once the broker is back every event arrives, in stream order, none skipped.
//!
//! The shared broker (127.0.0.1:9876/10911) serves other tests and is never touched here: this
//! test starts a name server and broker of its own (`event_store::testing::infra::PrivateBroker`,
//! the one mechanism the fault suite uses too) on free loopback ports, with a store in a temp dir
//! that is removed at the end.
#![recursion_limit = "512"]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use event_store::testing::infra::PrivateBroker;
use relay::Relay;
use rocketmq::ReceivedMessage;
use tokio::time::Instant;

use support::{
    Collector, World, append_interleaved, assert_complete_in_stream_order, start_relay, stop_relay,
    streams, versions_by_stream, wait_until,
};

/// The distinct (stream, version) pairs among `received`.
fn distinct_versions(received: &[ReceivedMessage]) -> usize {
    versions_by_stream(received)
        .into_values()
        .map(|versions| versions.into_iter().collect::<BTreeSet<_>>().len())
        .sum()
}

/// A broker of the test's own, and a world whose relay publishes to it in small batches and
/// retries quickly.
async fn private_broker_and_world() -> (PrivateBroker, World) {
    let broker = PrivateBroker::start().await;
    let mut world = World::create().await;
    world.settings.rocketmq.name_server = broker.name_server();
    world.settings.relay.batch_size = 16;
    world.settings.relay.retry_initial_ms = 50;
    world.settings.relay.retry_max_ms = 500;
    (broker, world)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_delays_publishing_but_skips_nothing() {
    support::init_logging();
    let test_started = Instant::now();
    // Declared first, dropped last: the relay and the consumer stop before their broker does.
    let (mut broker, world) = private_broker_and_world().await;
    let streams = streams(5);
    let collector = Collector::start(&world.settings, &world.prefix).await;

    let relay = Relay::build(world.settings.clone())
        .await
        .expect("relay builds");
    let (metrics, stop, running) = start_relay(relay);

    // 1. A healthy broker: 5 streams × 20 = 100 events arrive and are checkpointed.
    append_interleaved(&world.store, &streams, 0..20, 2).await;
    let first_last = world.last_position().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    wait_until(deadline, "the first 100 events arrived", || async {
        distinct_versions(&collector.received()) == 100
    })
    .await;
    wait_until(
        deadline,
        "the checkpoint reaches the first batch's last event",
        || async { world.checkpoint().await == Some(first_last) },
    )
    .await;
    let failures_before = metrics.send_failures.get();

    // 2. The broker dies; 100 more events are appended; the relay retries and its checkpoint
    //    stays on the last acknowledged event.
    broker.kill_broker();
    let killed_at = Instant::now();
    append_interleaved(&world.store, &streams, 20..40, 2).await;
    let last = world.last_position().await;
    assert!(last.position > first_last.position);
    wait_until(
        Instant::now() + Duration::from_secs(30),
        "the relay retried publishing at least 5 times",
        || async { metrics.send_failures.get() >= failures_before + 5 },
    )
    .await;
    assert_eq!(
        world.checkpoint().await,
        Some(first_last),
        "the checkpoint moved while the broker was down"
    );
    assert_eq!(
        metrics.checkpoint_position.get(),
        i64::try_from(first_last.position).unwrap()
    );
    assert_eq!(
        metrics.active.get(),
        1,
        "the relay stays active while retrying"
    );
    assert_eq!(
        distinct_versions(&collector.received()),
        100,
        "nothing can arrive from a dead broker"
    );
    let outage = killed_at.elapsed();
    let failures_during_outage = metrics.send_failures.get() - failures_before;

    // 3. The broker comes back on the same ports and store: every event of both batches
    //    arrives, in stream order, and the checkpoint reaches the last event.
    let batches_before_restart = metrics.batches.get();
    broker.start_broker().await;
    let restarted_at = Instant::now();
    // The client stops connecting to an address for 30 s after 5 failed connects in a row (the
    // transport's circuit breaker, not configurable), so recovery takes up to ~30 s.
    let deadline = restarted_at + Duration::from_secs(60);
    wait_until(deadline, "the relay publishes again", || async {
        metrics.batches.get() > batches_before_restart
    })
    .await;
    let first_publish_after = restarted_at.elapsed();
    wait_until(
        deadline,
        "the checkpoint reaches the last event",
        || async { world.checkpoint().await == Some(last) },
    )
    .await;
    let checkpoint_after = restarted_at.elapsed();
    wait_until(deadline, "all 200 events arrived", || async {
        distinct_versions(&collector.received()) == 200
    })
    .await;
    let all_received_after = restarted_at.elapsed();

    let received = collector.received();
    let duplicates = assert_complete_in_stream_order(&received, &streams, 40);
    assert_eq!(received.len(), 200 + duplicates);
    assert_eq!(world.checkpoint().await, Some(last));
    assert_eq!(
        metrics.checkpoint_position.get(),
        i64::try_from(last.position).unwrap()
    );
    let failures_total = metrics.send_failures.get() - failures_before;
    assert!(failures_total >= 5);
    eprintln!(
        "broker down {outage:?} before the restart began ({failures_during_outage} failed \
         publishes by then, {failures_total} in all); after the broker was ready again: first \
         batch acknowledged in {first_publish_after:?}, checkpoint on the last event in \
         {checkpoint_after:?}, all 200 events received in {all_received_after:?}; {duplicates} \
         duplicate deliveries; test took {:?}",
        test_started.elapsed()
    );

    stop_relay(stop, running, Instant::now() + Duration::from_secs(30)).await;
    collector.stop().await;
    drop(broker);
}

/// The broker SIGKILLed while the relay publishes under load: every event the relay had
/// acknowledged (`SEND_OK`) before the kill, and every event after, is still in the broker once
/// it is back. A consumer group that starts afterwards from the first offset, filtering on the
/// events' tag as the checkout process manager does, receives every event; so does the group
/// that consumed through the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_publishing_keeps_every_acknowledged_event() {
    support::init_logging();
    let (mut broker, world) = private_broker_and_world().await;
    const PER_STREAM: u64 = 300;
    let streams = streams(6);
    let total = usize::try_from(PER_STREAM).unwrap() * streams.len();
    let through = Collector::start(&world.settings, &world.prefix).await;
    // A slow, tag-filtered consumer through the outage, as the checkout process manager is.
    let slow = Collector::start_group(
        &world.settings,
        &world.prefix,
        &format!("{}-slow", world.prefix),
        "ItemAdded || ItemRemoved",
        Duration::from_millis(20),
    )
    .await;
    let relay = Relay::build(world.settings.clone())
        .await
        .expect("relay builds");
    let (metrics, stop, running) = start_relay(relay);

    let store = world.store.clone();
    let appending = {
        let streams = streams.clone();
        tokio::spawn(async move { append_interleaved(&store, &streams, 0..PER_STREAM, 1).await })
    };
    // Kill the broker once the relay has acknowledged a part of the load, while it publishes.
    wait_until(
        Instant::now() + Duration::from_secs(60),
        "the relay has published a part of the load",
        || async { distinct_versions(&through.received()) >= total / 5 },
    )
    .await;
    broker.kill_broker();
    let acknowledged_before_kill = world.checkpoint().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.start_broker().await;
    appending.await.expect("appending");
    let deadline = Instant::now() + Duration::from_secs(90);
    world.until_checkpoint_at_log_end(deadline).await;

    let late = Collector::start_group(
        &world.settings,
        &world.prefix,
        &format!("{}-late", world.prefix),
        "ItemAdded",
        Duration::ZERO,
    )
    .await;
    let arrived = |collector: &Collector| distinct_versions(&collector.received());
    let waited = tokio::time::timeout_at(deadline, async {
        while arrived(&late) < total || arrived(&through) < total || arrived(&slow) < total {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    eprintln!(
        "acknowledged before the kill: {acknowledged_before_kill:?}; {} of {total} events \
         through the outage, {} of {total} for a slow consumer through it, {} of {total} for a \
         group started afterwards; {} failed sends",
        arrived(&through),
        arrived(&slow),
        arrived(&late),
        metrics.send_failures.get()
    );
    assert!(waited.is_ok(), "events missing after the broker's restart");
    assert_complete_in_stream_order(&late.received(), &streams, PER_STREAM);
    assert_complete_in_stream_order(&through.received(), &streams, PER_STREAM);
    assert_complete_in_stream_order(&slow.received(), &streams, PER_STREAM);

    stop_relay(stop, running, Instant::now() + Duration::from_secs(30)).await;
    late.stop().await;
    slow.stop().await;
    through.stop().await;
    drop(broker);
}
