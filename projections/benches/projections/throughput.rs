//! Relay throughput: a backlog in the log, published by the relay from an empty checkpoint,
//! against sending the same encoded events straight to the broker.

use std::time::{Duration, Instant};

use event_store::{AllPosition, EventStore, RecordedEvent};
use relay::Relay;
use rocketmq::{BrokerClient, EventTopics, OutgoingEvent};
use settings::Settings;
use tokio::sync::oneshot;

use crate::{stats::median, unique_settings, workload};

/// What one trial measured.
pub struct Trial {
    /// Events per second from the first acknowledged batch to the last event acknowledged (and,
    /// for the relay, checkpointed).
    pub rate: f64,
    /// From start (relay spawned / producer started) to the first acknowledged batch.
    pub startup: Duration,
}

pub struct Row {
    pub events: usize,
    pub ours: Vec<Trial>,
    pub raw: Vec<Trial>,
    pub ratio: f64,
}

/// Appends `total` events on `streams` customer streams: a registration, then deposits 10 per
/// append.
pub async fn backlog(store: &EventStore, total: usize, streams: usize) {
    let per_stream = total / streams;
    for i in 0..streams {
        let mut customer = workload::customer(store).await;
        // The first stream takes the remainder, so the log holds exactly `total` events.
        let extra = if i == 0 { total % streams } else { 0 };
        workload::deposits(store, &mut customer, per_stream - 1 + extra, 10).await;
    }
}

async fn read_log(store: &EventStore) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    let mut from = AllPosition::START;
    loop {
        let slice = store.read_all(from, 1_000).await.expect("read $all");
        if slice.events.is_empty() {
            return events;
        }
        from = slice.next;
        events.extend(slice.events);
    }
}

/// The relay from an empty checkpoint, until its checkpoint is the log's last event.
async fn ours(settings: &Settings, last: u64, total: usize) -> Trial {
    let settings = unique_settings(settings, "brelay");
    let relay = Relay::build(settings).await.expect("relay builds");
    let metrics = relay.metrics();
    let (stop, stopped) = oneshot::channel::<()>();
    let started = Instant::now();
    let task = tokio::spawn(relay.run(async {
        stopped.await.ok();
    }));
    let mut first: Option<(Instant, u64)> = None;
    let deadline = started + Duration::from_secs(600);
    let done = loop {
        let published = metrics.published_events.get();
        let now = Instant::now();
        if first.is_none() && published > 0 {
            first = Some((now, published));
        }
        if u64::try_from(metrics.checkpoint_position.get()).unwrap_or(0) >= last {
            break now;
        }
        assert!(now < deadline, "the relay did not reach the log's end");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop.send(()).ok();
    task.await
        .expect("relay task")
        .expect("relay stops cleanly");
    let (at, published) = first.expect("published before the checkpoint moved");
    Trial {
        rate: rate(total as u64 - published.min(total as u64), done - at),
        startup: at - started,
    }
}

/// The same events, encoded, sent with `send_events` in batches of the relay's size.
async fn raw(
    broker: &BrokerClient,
    settings: &Settings,
    events: &[RecordedEvent],
    batch_size: usize,
) -> Trial {
    let settings = unique_settings(settings, "brawrelay");
    let topics = EventTopics::new(&settings.rocketmq.topic_prefix);
    broker
        .create_topic(&topics.topic("customer"), settings.rocketmq.queues)
        .await
        .expect("create topic");
    let encoded: Vec<OutgoingEvent> = events
        .iter()
        .map(|event| OutgoingEvent::encode(&topics, event))
        .collect();
    let started = Instant::now();
    let producer = broker
        .start_producer(&settings.relay.producer_group)
        .await
        .expect("producer starts");
    let mut first: Option<(Instant, usize)> = None;
    for batch in encoded.chunks(batch_size) {
        producer
            .send_events(batch, settings.relay.max_batch_bytes)
            .await
            .expect("broker acknowledges");
        first.get_or_insert((Instant::now(), batch.len()));
    }
    let done = Instant::now();
    producer.shutdown().await;
    let (at, sent) = first.expect("at least one batch");
    Trial {
        rate: rate((encoded.len() - sent) as u64, done - at),
        startup: at - started,
    }
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// `pairs` relay/raw pairs of trials over the log of `store` (already holding the backlog).
pub async fn compare(
    broker: &BrokerClient,
    settings: &Settings,
    store: &EventStore,
    pairs: usize,
) -> Row {
    let events = read_log(store).await;
    let last = events.last().expect("a backlog").position;
    let batch_size = settings.relay.batch_size.max(1);
    let (mut ours_trials, mut raw_trials, mut ratios) = (vec![], vec![], vec![]);
    for pair in 1..=pairs {
        let o = ours(settings, last, events.len()).await;
        let r = raw(broker, settings, &events, batch_size).await;
        eprintln!(
            "  relay pair {pair}: relay {:>7.0} ev/s (start-up {:>5.0} ms) | send_events {:>7.0} ev/s \
             (start-up {:>5.0} ms) | ratio {:.2}",
            o.rate,
            o.startup.as_secs_f64() * 1e3,
            r.rate,
            r.startup.as_secs_f64() * 1e3,
            o.rate / r.rate
        );
        ratios.push(o.rate / r.rate);
        ours_trials.push(o);
        raw_trials.push(r);
    }
    Row {
        events: events.len(),
        ours: ours_trials,
        raw: raw_trials,
        ratio: median(ratios),
    }
}
