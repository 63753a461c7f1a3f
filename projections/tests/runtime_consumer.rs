//! The worker end to end through the real broker on loopback: events published (twice, with a gap,
//! with a poison event) reach both test projections effectively once; the Redis model is rebuilt
//! from the log before its consumer starts. Each test has its own database, Redis prefix, topics
//! and consumer groups, and shuts its consumers down gracefully (a killed consumer's queue locks
//! linger on the broker: docs/broker-topics-and-tests.md).
#![recursion_limit = "512"]

mod support;

use std::time::Duration;

use event_store::RecordedEvent;
use projections::runtime::ProjectionApp;
use rocketmq::{BrokerClient, BrokerClientConfig, EventTopics, OutgoingEvent, Producer};
use support::{Harness, MAX_ATTEMPTS};
use tokio::time::Instant;

const BUDGET: Duration = Duration::from_secs(120);

/// Polls `check` until it holds or the budget is spent.
async fn eventually<F, Fut>(what: &str, deadline: Instant, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn publish(producer: &Producer, topics: &EventTopics, events: &[&RecordedEvent]) {
    for event in events {
        let out = OutgoingEvent::encode(topics, event);
        producer
            .send_ordered(
                &out.topic,
                &out.tag,
                &out.key,
                &out.selector,
                out.body.clone(),
                &out.property_pairs(),
            )
            .await
            .expect("published");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_published_events_reach_both_models_once_with_gaps_filled_and_poison_parked() {
    let deadline = Instant::now() + BUDGET;
    let mut h = Harness::unbuilt().await;
    let settings = h.settings();
    // Already in the log before the worker starts: the Redis model (no epoch) is rebuilt with
    // them before its consumer starts; the PostgreSQL model (no progress row) too.
    let early = h.append("early", &[Some(100)]).await;
    let app = ProjectionApp::start(
        h.runtime.clone(),
        h.registry.take().expect("registry"),
        &settings,
        h.both().to_vec(),
    )
    .await
    .expect("worker started");
    assert_eq!(
        h.redis_versions("early").await,
        vec![0],
        "rebuilt before consuming"
    );
    assert_eq!(h.pg_versions("early").await, vec![0]);

    let topics = EventTopics::new(&settings.rocketmq.topic_prefix);
    let broker =
        BrokerClient::new(BrokerClientConfig::new(&settings.rocketmq.name_server)).expect("client");
    let producer = broker
        .start_producer(&format!("pt-{}-producer", h.run))
        .await
        .expect("producer");

    let twice = h.append("twice", &[Some(1), Some(2), Some(3)]).await;
    let gap = h.append("gap", &[Some(10), Some(20), Some(30)]).await;
    let sick = h.append("sick", &[Some(1), None, Some(3)]).await;
    publish(
        &producer,
        &topics,
        &[&early[0], &twice[0], &twice[1], &twice[0], &twice[2]],
    )
    .await;
    publish(&producer, &topics, &[&gap[0], &gap[2]]).await;
    publish(&producer, &topics, &[&sick[0], &sick[1], &sick[2]]).await;
    publish(&producer, &topics, &twice.iter().collect::<Vec<_>>()).await;

    eventually(
        "both models to apply every healthy stream",
        deadline,
        || async {
            h.pg_versions("twice").await == [0, 1, 2]
                && h.pg_versions("gap").await == [0, 1, 2]
                && h.redis_versions("twice").await == [0, 1, 2]
                && h.redis_versions("gap").await == [0, 1, 2]
                && h.parked(&h.table).await.len() == 2
                && h.parked(&h.cache).await.len() == 2
        },
    )
    .await;
    assert_eq!(h.pg_total("twice").await, Some(6));
    assert_eq!(h.pg_total("gap").await, Some(60));
    for projection in h.both() {
        let parked = h.parked(&projection).await;
        assert_eq!(
            parked[0],
            ("ledger-sick".to_owned(), Some(1), MAX_ATTEMPTS as i32)
        );
        assert_eq!(parked[1], ("ledger-sick".to_owned(), Some(2), 0));
        assert!(h.runtime.metrics().duplicates(projection.name()) >= 4);
    }
    assert_eq!(h.pg_versions("sick").await, vec![0]);

    // The operator fixes the model and re-drives; the live models then equal rebuilt ones.
    h.poison
        .fixed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for projection in h.both() {
        let report = app
            .runtime()
            .redrive(&projection, "ledger-sick")
            .await
            .expect("redrive");
        assert_eq!(report.applied, 2);
    }
    assert_eq!(h.redis_versions("sick").await, vec![0, 1, 2]);
    let metrics = app.metrics_addr().expect("metrics served");
    let body = http_get(metrics, "/metrics").await;
    assert!(
        body.contains("projection_applied_events_total{projection=\"test_ledger\"}"),
        "{body}"
    );

    producer.shutdown().await;
    broker.shutdown().await.expect("producer client stopped");
    app.shutdown().await.expect("worker stopped");
    for projection in h.both() {
        let live = support::snapshot(&h.runtime, &projection).await;
        h.runtime.rebuild(&projection).await.expect("rebuild");
        assert_eq!(
            support::snapshot(&h.runtime, &projection).await,
            live,
            "{projection:?}"
        );
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("read");
    body
}
