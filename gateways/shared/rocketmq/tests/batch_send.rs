//! Batched sends through the real broker on loopback: [`Producer::send_events`] must put every
//! stream on the same queue as [`Producer::send_ordered`], in order, so single and batched sends
//! of one stream can be mixed.
//!
//! Needs the name server and broker the project's scripts start (`APP_ROCKETMQ__NAME_SERVER`,
//! default `127.0.0.1:9876`).
#![recursion_limit = "512"]

use std::collections::BTreeMap;
use std::time::Duration;

use rocketmq::{
    BrokerClient, BrokerClientConfig, ConsumeOutcome, OrderlyConsumerConfig, OutgoingEvent,
    Producer, ReceivedMessage, SendReceipt,
};
use rocketmq_client_rust::JavaHashCode;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

const TEST_BUDGET: Duration = Duration::from_secs(90);
const QUEUE_COUNT: u32 = 4;
const STREAMS: [&str; 6] = [
    "cart-1",
    "cart-2",
    "cart-3",
    "cart-ab-9",
    "cart-x",
    "cart-7",
];

fn name_server() -> String {
    std::env::var("APP_ROCKETMQ__NAME_SERVER").unwrap_or_else(|_| "127.0.0.1:9876".to_owned())
}

fn expected_queue(stream: &str) -> i32 {
    let queue = i64::from(stream.java_hash_code()) % i64::from(QUEUE_COUNT);
    i32::try_from(queue.abs()).expect("queue index fits")
}

fn outgoing(topic: &str, stream: &str, version: u32) -> OutgoingEvent {
    OutgoingEvent {
        topic: topic.to_owned(),
        tag: "ItemAdded".to_owned(),
        key: format!("{stream}@{version}"),
        selector: stream.to_owned(),
        // Bodies of a few hundred bytes, so a small byte limit splits the batches.
        body: format!("{stream}@{version}:{}", "x".repeat(300)).into_bytes(),
        properties: vec![("stream_version", version.to_string())],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_and_single_sends_of_a_stream_land_on_its_hashed_queue_in_order() {
    let scenario = tokio::spawn(mixed_sends(Instant::now() + TEST_BUDGET));
    tokio::time::timeout(TEST_BUDGET, scenario)
        .await
        .expect("the scenario finishes within the test budget")
        .expect("scenario task panicked");
}

async fn mixed_sends(deadline: Instant) {
    let run = Uuid::new_v4().simple().to_string();
    let topic = format!("gateway-batch-{run}");
    let client = BrokerClient::new(BrokerClientConfig::new(name_server())).expect("client runtime");
    timeout_at(deadline, client.create_topic(&topic, QUEUE_COUNT))
        .await
        .expect("topic creation within the test budget")
        .expect("topic created");
    let producer = client
        .start_producer(&format!("gateway-batch-producer-{run}"))
        .await
        .expect("producer started");

    // Versions 0..2 one by one, 2..12 batched (split by a small byte limit), 12..14 one by one.
    let mut receipts: BTreeMap<String, Vec<(u32, SendReceipt)>> = BTreeMap::new();
    send_singles(&producer, &topic, 0..2, &mut receipts).await;
    let batch: Vec<OutgoingEvent> = (2..12)
        .flat_map(|version| STREAMS.map(|stream| outgoing(&topic, stream, version)))
        .collect();
    let batch_receipts = producer
        .send_events(&batch, 2_000)
        .await
        .expect("batched send acknowledged");
    assert_eq!(batch_receipts.len(), batch.len());
    for (event, receipt) in batch.iter().zip(batch_receipts) {
        let version: u32 = event.properties[0].1.parse().unwrap();
        receipts
            .entry(event.selector.clone())
            .or_default()
            .push((version, receipt));
    }
    send_singles(&producer, &topic, 12..14, &mut receipts).await;

    for (stream, sent) in &receipts {
        for (version, receipt) in sent {
            assert_eq!(
                receipt.queue_id,
                expected_queue(stream),
                "{stream}@{version} left its stream's queue"
            );
        }
        let offsets: Vec<u64> = sent
            .iter()
            .map(|(_, receipt)| receipt.queue_offset)
            .collect();
        assert!(
            offsets.windows(2).all(|pair| pair[0] < pair[1]),
            "{stream}: queue offsets follow send order: {offsets:?}"
        );
    }

    // Read everything back: each stream arrives in version order, at the receipts' offsets.
    let (deliveries, mut received) = mpsc::unbounded_channel::<ReceivedMessage>();
    let consumer = client
        .start_orderly_consumer(
            OrderlyConsumerConfig::new(format!("gateway-batch-consumer-{run}"), topic.as_str()),
            move |message: &ReceivedMessage| {
                let _ = deliveries.send(message.clone());
                ConsumeOutcome::Done
            },
        )
        .await
        .expect("consumer started");
    let total = STREAMS.len() * 14;
    let mut arrivals: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut offsets: BTreeMap<String, u64> = BTreeMap::new();
    let mut distinct = std::collections::HashSet::new();
    while distinct.len() < total {
        let message = timeout_at(deadline, received.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {total} arrived", distinct.len()))
            .expect("the consumer keeps its handler alive");
        let key = message.keys[0].clone();
        if distinct.insert(key.clone()) {
            let stream = key.split('@').next().unwrap().to_owned();
            arrivals.entry(stream).or_default().push(key.clone());
            offsets.insert(key, u64::try_from(message.queue_offset).unwrap());
        }
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await.expect("clean client shutdown");

    for (stream, sent) in &receipts {
        let expected: Vec<String> = (0..14)
            .map(|version| format!("{stream}@{version}"))
            .collect();
        assert_eq!(arrivals[stream], expected, "{stream} arrived out of order");
        for (version, receipt) in sent {
            assert_eq!(
                offsets[&format!("{stream}@{version}")],
                receipt.queue_offset,
                "receipt offset of {stream}@{version}"
            );
        }
    }
}

/// Sends `versions` of every stream one message at a time, recording each receipt.
async fn send_singles(
    producer: &Producer,
    topic: &str,
    versions: std::ops::Range<u32>,
    receipts: &mut BTreeMap<String, Vec<(u32, SendReceipt)>>,
) {
    for version in versions {
        for stream in STREAMS {
            let event = outgoing(topic, stream, version);
            let receipt = producer
                .send_ordered(
                    topic,
                    &event.tag,
                    &event.key,
                    stream,
                    event.body.clone(),
                    &event.property_pairs(),
                )
                .await
                .expect("single send acknowledged");
            receipts
                .entry(stream.to_owned())
                .or_default()
                .push((version, receipt));
        }
    }
}
