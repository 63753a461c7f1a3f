//! Slow handlers on many queues, through the real broker on loopback: every queue of an orderly
//! consumer gets its handler at once, however long the handlers take.
//!
//! The client runs handlers on a blocking lane of its runtime that it also uses for its own
//! metadata I/O (queue locks, offsets, routes). With the runtime's default lane (twice the CPU
//! count: 4 slots on 2 cores, a 5 s admission timeout) a process whose handlers are slow — the
//! checkout process manager drives a purchase through several services per message — kept most
//! of its queues waiting: after a broker restart its backlog of 8 queues made every batch wait
//! for a slot, time out, go back and wait again, and purchases stayed unstarted for minutes
//! (docs/faults.md). `BrokerClient` sizes the lane for a handler per queue.
//!
//! Needs the name server and broker the project's scripts start; the name server address comes
//! from `APP_ROCKETMQ__NAME_SERVER` (default `127.0.0.1:9876`).
#![recursion_limit = "512"]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq::{BrokerClient, BrokerClientConfig, ConsumeOutcome, OrderlyConsumerConfig};
use tokio::time::Instant;
use uuid::Uuid;

const QUEUES: u32 = 12;
/// How long a handler waits for the others to be running beside it.
const PATIENCE: Duration = Duration::from_secs(8);

fn name_server() -> String {
    std::env::var("APP_ROCKETMQ__NAME_SERVER").unwrap_or_else(|_| "127.0.0.1:9876".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_queue_gets_its_handler_at_once_however_slow_the_handlers_are() {
    let run = Uuid::new_v4().simple().to_string();
    let topic = format!("gateway-slow-handlers-{run}");
    let client = BrokerClient::new(BrokerClientConfig::new(name_server())).expect("client runtime");
    client
        .create_topic(&topic, QUEUES)
        .await
        .expect("topic created");
    let producer = client
        .start_producer(&format!("gateway-slow-producer-{run}"))
        .await
        .expect("producer started");
    // One message per stream; enough streams that (nearly) every queue holds some.
    let mut queues = BTreeSet::new();
    for stream in 0..48 {
        let receipt = producer
            .send_ordered(
                &topic,
                "Slow",
                &format!("key-{stream}"),
                &format!("stream-{stream}"),
                b"{}".to_vec(),
                &[],
            )
            .await
            .expect("message acknowledged");
        queues.insert(receipt.queue_id);
    }
    producer.shutdown().await;
    let target = queues.len();
    assert!(target > 8, "the messages spread over {target} queues only");

    // Each handler waits (up to PATIENCE) until one handler of every queue runs beside it.
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let consumer = {
        let (running, most, handled) = (running.clone(), most.clone(), handled.clone());
        client
            .start_orderly_consumer(
                OrderlyConsumerConfig::new(format!("gateway-slow-consumer-{run}"), &topic),
                move |message: &rocketmq::ReceivedMessage| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let until = std::time::Instant::now() + PATIENCE;
                    while running.load(Ordering::SeqCst) < target
                        && most.load(Ordering::SeqCst) < target
                        && std::time::Instant::now() < until
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    handled
                        .lock()
                        .unwrap()
                        .push(message.keys.first().cloned().unwrap_or_default());
                    ConsumeOutcome::Done
                },
            )
            .await
            .expect("consumer started")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while handled.lock().unwrap().len() < 48 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handled = handled.lock().unwrap().clone();
    let distinct: BTreeSet<&String> = handled.iter().collect();
    assert_eq!(distinct.len(), 48, "every message handled");
    assert_eq!(
        handled.len(),
        48,
        "no message handed over twice (a handler the client gave up on while it still ran)"
    );
    assert_eq!(
        most.load(Ordering::SeqCst),
        target,
        "handlers running at once, of {target} queues holding messages"
    );
    consumer.shutdown().await;
    client.shutdown().await.expect("clean client shutdown");
}
