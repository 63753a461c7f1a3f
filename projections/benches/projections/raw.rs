//! The baseline of the lag rows: the same events, encoded as the relay encodes them, sent with
//! `send_ordered` at the same offered rate to an orderly consumer that only notes the time.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use event_store::RecordedEvent;
use rocketmq::{
    BrokerClient, ConsumeOutcome, EventTopics, OrderlyConsumerConfig, OutgoingEvent,
    ReceivedMessage,
};
use settings::Settings;
use tokio::task::JoinSet;

use crate::{WARM_UP, stats::Spread, unique_settings};

#[derive(Clone)]
pub struct Row {
    /// The asked rate.
    pub rate: u32,
    /// Sends acknowledged per second, from the first send to the last acknowledgement.
    pub achieved: f64,
    pub offered: u64,
    pub sent: u64,
    pub received: u64,
    pub errors: u64,
    /// Send call → received by the consumer, of messages sent after the warm-up.
    pub lag: Spread,
}

type Stamps = Arc<Mutex<Vec<(String, Instant)>>>;

/// Sends `events` (all of `category`) at `rate` per second to a topic of their own.
pub async fn run(
    broker: &BrokerClient,
    settings: &Settings,
    category: &str,
    events: &[RecordedEvent],
    rate: u32,
) -> Row {
    let settings = unique_settings(settings, "brawlag");
    let topics = EventTopics::new(&settings.rocketmq.topic_prefix);
    let topic = topics.topic(category);
    broker
        .create_topic(&topic, settings.rocketmq.queues)
        .await
        .expect("create topic");
    let received: Stamps = Arc::default();
    let handler = {
        let received = received.clone();
        move |message: &ReceivedMessage| {
            let now = Instant::now();
            let key = message.keys.first().cloned().unwrap_or_default();
            received.lock().unwrap().push((key, now));
            ConsumeOutcome::Done
        }
    };
    let group = format!("{}-consumer", settings.projections.group_prefix);
    let consumer = broker
        .start_orderly_consumer(OrderlyConsumerConfig::new(group, &topic), handler)
        .await
        .expect("consumer starts");
    let producer = Arc::new(
        broker
            .start_producer(&settings.relay.producer_group)
            .await
            .expect("producer starts"),
    );
    // Until the consumer holds its queues, messages wait at the broker: probe first.
    let ready = Instant::now() + Duration::from_secs(120);
    for probe in 0.. {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < ready, "the raw consumer never received");
        let key = format!("probe-{probe}");
        producer
            .send_ordered(&topic, "Probe", &key, &key, b"{}".to_vec(), &[])
            .await
            .ok();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let encoded: Arc<Vec<OutgoingEvent>> = Arc::new(
        events
            .iter()
            .map(|event| OutgoingEvent::encode(&topics, event))
            .collect(),
    );
    let sent: Stamps = Arc::default();
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // Nanoseconds from the start to the latest acknowledgement.
    let last_ack = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let mut tasks = JoinSet::new();
    for i in 0..encoded.len() {
        interval.tick().await;
        while tasks.try_join_next().is_some() {}
        let (producer, encoded, sent) = (producer.clone(), encoded.clone(), sent.clone());
        let (ok, errors, last_ack) = (ok.clone(), errors.clone(), last_ack.clone());
        tasks.spawn(async move {
            let event = &encoded[i];
            sent.lock()
                .unwrap()
                .push((event.key.clone(), Instant::now()));
            let pairs = event.property_pairs();
            let outcome = producer
                .send_ordered(
                    &event.topic,
                    &event.tag,
                    &event.key,
                    &event.selector,
                    event.body.clone(),
                    &pairs,
                )
                .await;
            match outcome {
                Ok(_) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    let since_start = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    last_ack.fetch_max(since_start, Ordering::Relaxed);
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let sent: HashMap<String, Instant> = sent.lock().unwrap().drain(..).collect();
    let drained = Instant::now() + Duration::from_secs(30);
    let count_received = || {
        received
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, _)| sent.contains_key(key))
            .count() as u64
    };
    while Instant::now() < drained && count_received() < ok.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    consumer.shutdown().await;
    if let Ok(producer) = Arc::try_unwrap(producer) {
        producer.shutdown().await;
    }
    let warm_end = start + WARM_UP;
    let mut received_count = 0;
    let lags: Vec<Duration> = received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(key, at)| {
            let stamp = *sent.get(key)?;
            received_count += 1;
            (stamp >= warm_end).then(|| at.saturating_duration_since(stamp))
        })
        .collect();
    let window = Duration::from_nanos(last_ack.load(Ordering::Relaxed));
    let row = Row {
        rate,
        achieved: ok.load(Ordering::Relaxed) as f64 / window.as_secs_f64().max(1e-9),
        offered: encoded.len() as u64,
        sent: ok.load(Ordering::Relaxed),
        received: received_count,
        errors: errors.load(Ordering::Relaxed),
        lag: Spread::of(lags),
    };
    eprintln!(
        "  raw mq    {rate:>5}/s: achieved {:.0}/s sent {} received {} errors {} | lag p50 {:.1} \
         p99 {:.1} max {:.1} ms",
        row.achieved, row.sent, row.received, row.errors, row.lag.p50, row.lag.p99, row.lag.max
    );
    row
}
