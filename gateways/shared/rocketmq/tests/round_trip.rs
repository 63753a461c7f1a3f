//! Round trip through the real broker on loopback: explicit topic creation, ordered sends, and
//! an orderly push consumer reading everything back.
//!
//! Needs the name server and broker the project's scripts start; the name server address comes
//! from `APP_ROCKETMQ__NAME_SERVER` (default `127.0.0.1:9876`).
#![recursion_limit = "512"]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rocketmq::{
    BrokerClient, BrokerClientConfig, ConsumeOutcome, OrderlyConsumerConfig, ReceivedMessage,
    SendReceipt,
};
use rocketmq_client_rust::JavaHashCode;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

const TEST_BUDGET: Duration = Duration::from_secs(90);
const QUEUE_COUNT: u32 = 4;

/// Client logs for diagnosis, e.g. `RUST_LOG=rocketmq_client_rust=debug`; quiet by default.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

fn name_server() -> String {
    std::env::var("APP_ROCKETMQ__NAME_SERVER").unwrap_or_else(|_| "127.0.0.1:9876".to_owned())
}

/// One message the test sends, and expects back unchanged.
#[derive(Debug, Clone)]
struct Sent {
    stream: String,
    key: String,
    tag: &'static str,
    body: Vec<u8>,
    properties: BTreeMap<String, String>,
    receipt: SendReceipt,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_messages_round_trip_with_their_keys_tags_and_properties_in_stream_order() {
    init_logging();
    // Spawned, so the test also proves every gateway future is `Send`.
    let scenario = tokio::spawn(round_trip(Instant::now() + TEST_BUDGET));
    // The overall bound also covers sends and shutdowns, which have no deadline of their own.
    tokio::time::timeout(TEST_BUDGET, scenario)
        .await
        .expect("the scenario finishes within the test budget")
        .expect("scenario task panicked");
}

async fn round_trip(deadline: Instant) {
    let run = Uuid::new_v4().simple().to_string();
    let topic = format!("gateway-round-trip-{run}");
    let client = BrokerClient::new(BrokerClientConfig::new(name_server())).expect("client runtime");

    timeout_at(deadline, client.create_topic(&topic, QUEUE_COUNT))
        .await
        .expect("topic creation within the test budget")
        .expect("topic created");

    let producer = client
        .start_producer(&format!("gateway-test-producer-{run}"))
        .await
        .expect("producer started");

    // A message the consumer's tag filter must drop. It goes first on a stream's queue: had the
    // filter let it through, the orderly consumer would hand it over before that queue's rest.
    let filtered_out = producer
        .send_ordered(
            &topic,
            "Unsubscribed",
            "filtered-out",
            "cart-1",
            b"never delivered".to_vec(),
            &[],
        )
        .await
        .expect("filtered-out message acknowledged");

    let streams = ["cart-1", "cart-2", "cart-3", "sku-7"];
    let mut sent: Vec<Sent> = Vec::new();
    // Interleave the streams, as a relay tailing a global log would.
    for version in 0..3 {
        for (index, stream) in streams.iter().enumerate() {
            let key = format!("{stream}@{version}");
            let tag = if index % 2 == 0 {
                "CartEvent"
            } else {
                "SkuEvent"
            };
            let body = format!(r#"{{"stream":"{stream}","version":{version}}}"#).into_bytes();
            let correlation = Uuid::new_v4().to_string();
            let version_text = version.to_string();
            let properties = [
                ("correlation-id", correlation.as_str()),
                ("stream-version", version_text.as_str()),
            ];
            let receipt = producer
                .send_ordered(&topic, tag, &key, stream, body.clone(), &properties)
                .await
                .expect("message acknowledged");
            sent.push(Sent {
                stream: stream.to_string(),
                key,
                tag,
                body,
                properties: properties
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect(),
                receipt,
            });
        }
    }

    assert_streams_keep_to_their_hashed_queue(&sent);
    assert_eq!(
        filtered_out.queue_id,
        expected_queue("cart-1"),
        "the filtered-out message shares cart-1's queue"
    );

    let (deliveries, mut received) = mpsc::unbounded_channel::<ReceivedMessage>();
    let consumer = client
        .start_orderly_consumer(
            OrderlyConsumerConfig::new(format!("gateway-test-consumer-{run}"), topic.as_str())
                .with_tags("CartEvent || SkuEvent"),
            move |message: &ReceivedMessage| {
                // The receiver only goes away when the test has finished waiting.
                let _ = deliveries.send(message.clone());
                ConsumeOutcome::Done
            },
        )
        .await
        .expect("consumer started");

    // Wait until every key has arrived (redeliveries are allowed: delivery is at least once).
    let expected_keys: HashSet<&str> = sent.iter().map(|message| message.key.as_str()).collect();
    let mut seen_keys: HashSet<String> = HashSet::new();
    let mut arrivals: Vec<ReceivedMessage> = Vec::new();
    while !expected_keys.iter().all(|key| seen_keys.contains(*key)) {
        let message = timeout_at(deadline, received.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {} messages arrived within the test budget",
                    seen_keys.len(),
                    expected_keys.len()
                )
            })
            .expect("the consumer keeps its handler alive");
        seen_keys.extend(message.keys.iter().cloned());
        arrivals.push(message);
    }

    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await.expect("clean client shutdown");

    assert!(
        arrivals
            .iter()
            .all(|message| message.tag.as_deref() != Some("Unsubscribed")),
        "the tag filter let an unsubscribed message through"
    );
    assert_messages_arrived_unchanged(&sent, &arrivals, &topic);
    assert_each_stream_arrived_in_send_order(&sent, &arrivals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_answered_retry_later_comes_back_before_the_rest_of_its_stream() {
    init_logging();
    let scenario = tokio::spawn(retry_in_place(Instant::now() + TEST_BUDGET));
    // The overall bound also covers sends and shutdowns, which have no deadline of their own.
    tokio::time::timeout(TEST_BUDGET, scenario)
        .await
        .expect("the scenario finishes within the test budget")
        .expect("scenario task panicked");
}

async fn retry_in_place(deadline: Instant) {
    let run = Uuid::new_v4().simple().to_string();
    let topic = format!("gateway-retry-{run}");
    let client = BrokerClient::new(BrokerClientConfig::new(name_server())).expect("client runtime");
    timeout_at(deadline, client.create_topic(&topic, 2))
        .await
        .expect("topic creation within the test budget")
        .expect("topic created");
    let producer = client
        .start_producer(&format!("gateway-test-producer-{run}"))
        .await
        .expect("producer started");
    let keys = ["order-1@0", "order-1@1", "order-1@2"];
    for key in keys {
        producer
            .send_ordered(
                &topic,
                "OrderEvent",
                key,
                "order-1",
                key.as_bytes().to_vec(),
                &[],
            )
            .await
            .expect("message acknowledged");
    }

    // The handler bridges to async code the documented way: `block_on` a handle of the
    // application's runtime (here the test's) from the client's blocking thread.
    let app = tokio::runtime::Handle::current();
    let (deliveries, mut received) = mpsc::channel::<ReceivedMessage>(16);
    let refused_once = AtomicBool::new(false);
    let mut config = OrderlyConsumerConfig::new(format!("gateway-test-consumer-{run}"), &topic);
    config.retry_delay = Duration::from_millis(100);
    config.max_local_retries = 3;
    let consumer = client
        .start_orderly_consumer(config, move |message: &ReceivedMessage| {
            let delivered = app.block_on(deliveries.send(message.clone()));
            if delivered.is_err() {
                return ConsumeOutcome::Done;
            }
            let is_second = message.keys.first().map(String::as_str) == Some("order-1@1");
            if is_second && !refused_once.swap(true, Ordering::SeqCst) {
                ConsumeOutcome::RetryLater
            } else {
                ConsumeOutcome::Done
            }
        })
        .await
        .expect("consumer started");

    let mut arrivals: Vec<(String, i32)> = Vec::new();
    while arrivals.len() < 4 {
        let message = timeout_at(deadline, received.recv())
            .await
            .unwrap_or_else(|_| panic!("only {arrivals:?} arrived within the test budget"))
            .expect("the consumer keeps its handler alive");
        arrivals.push((message.keys[0].clone(), message.reconsume_times));
    }

    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await.expect("clean client shutdown");

    let expected = [
        ("order-1@0", 0),
        ("order-1@1", 0),
        ("order-1@1", 1),
        ("order-1@2", 0),
    ];
    let expected: Vec<(String, i32)> = expected
        .iter()
        .map(|(key, times)| (key.to_string(), *times))
        .collect();
    assert_eq!(arrivals, expected);
}

fn expected_queue(stream: &str) -> i32 {
    let queue = i64::from(stream.java_hash_code()) % i64::from(QUEUE_COUNT);
    i32::try_from(queue.abs()).expect("queue index fits")
}

fn assert_streams_keep_to_their_hashed_queue(sent: &[Sent]) {
    for message in sent {
        assert_eq!(
            message.receipt.queue_id,
            expected_queue(&message.stream),
            "{} went to a queue not chosen by its stream id",
            message.key
        );
    }
    let queues: HashSet<i32> = sent
        .iter()
        .map(|message| message.receipt.queue_id)
        .collect();
    assert!(
        queues.len() > 1,
        "the streams should spread over the topic's {QUEUE_COUNT} queues, used {queues:?}"
    );
}

fn assert_messages_arrived_unchanged(sent: &[Sent], arrivals: &[ReceivedMessage], topic: &str) {
    let by_key: HashMap<&str, &ReceivedMessage> = arrivals
        .iter()
        .filter_map(|message| message.keys.first().map(|key| (key.as_str(), message)))
        .collect();
    for expected in sent {
        let actual = by_key[expected.key.as_str()];
        assert_eq!(actual.topic, topic);
        assert_eq!(actual.keys, vec![expected.key.clone()]);
        assert_eq!(
            actual.tag.as_deref(),
            Some(expected.tag),
            "tag of {}",
            expected.key
        );
        assert_eq!(actual.body, expected.body, "body of {}", expected.key);
        assert_eq!(
            actual.properties, expected.properties,
            "properties of {}",
            expected.key
        );
        assert_eq!(
            actual.msg_id, expected.receipt.msg_id,
            "message id of {}",
            expected.key
        );
        assert_eq!(
            actual.queue_id, expected.receipt.queue_id,
            "queue of {}",
            expected.key
        );
        assert_eq!(
            u64::try_from(actual.queue_offset).ok(),
            Some(expected.receipt.queue_offset),
            "offset of {}",
            expected.key
        );
    }
}

fn assert_each_stream_arrived_in_send_order(sent: &[Sent], arrivals: &[ReceivedMessage]) {
    let stream_of: HashMap<&str, &str> = sent
        .iter()
        .map(|message| (message.key.as_str(), message.stream.as_str()))
        .collect();
    let mut sent_order: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for message in sent {
        sent_order
            .entry(&message.stream)
            .or_default()
            .push(&message.key);
    }
    // First arrival of each key, per stream, in arrival order.
    let mut arrival_order: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut first_seen: HashSet<&str> = HashSet::new();
    for message in arrivals {
        let key = message.keys[0].as_str();
        if first_seen.insert(key) {
            arrival_order.entry(stream_of[key]).or_default().push(key);
        }
    }
    assert_eq!(arrival_order, sent_order);
}
