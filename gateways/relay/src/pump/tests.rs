//! The pump's invariant with an in-memory broker and checkpoint store that fail, stall and take
//! partial batches on purpose (seeded, so a failing seed can be replayed).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use event_store::{EventMetadata, StreamId};
use uuid::Uuid;

use super::*;

#[derive(Debug, thiserror::Error)]
#[error("unavailable")]
struct Unavailable;

/// A small deterministic generator (xorshift), shared by the fakes of one run.
#[derive(Clone)]
struct Dice(Arc<Mutex<u64>>);

impl Dice {
    fn new(seed: u64) -> Self {
        Self(Arc::new(Mutex::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        )))
    }

    /// A number in `0..n`.
    fn below(&self, n: u64) -> u64 {
        let mut state = self.0.lock().unwrap();
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state % n.max(1)
    }

    fn chance(&self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One event as the fake broker carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    stream: String,
    version: u64,
    at: AllPosition,
}

/// What the fake broker saw.
#[derive(Debug, Default)]
struct BrokerLog {
    /// Per lane, every message stored, repeats included, in store order.
    stored: BTreeMap<u32, Vec<Sent>>,
    /// Every acknowledged event.
    acknowledged: HashSet<AllPosition>,
    /// Lanes with a send under way, and the most sends seen at once.
    busy: HashSet<u32>,
    most_in_flight: usize,
    /// Attempts that failed.
    failures: u32,
}

/// How the fake broker misbehaves, in percent.
#[derive(Debug, Clone, Copy)]
struct Weather {
    /// A send fails.
    fail: u64,
    /// A failed send was stored all the same (a timeout after the store).
    stored_anyway: u64,
    /// A send takes only a prefix of its batch (a byte limit).
    partial: u64,
    /// Longest time a send takes, in ms.
    max_delay_ms: u64,
}

const CALM: Weather = Weather {
    fail: 0,
    stored_anyway: 0,
    partial: 0,
    max_delay_ms: 3,
};

struct FakeBroker {
    lanes: u32,
    dice: Dice,
    weather: Weather,
    /// Lanes whose sends always fail.
    down: HashSet<u32>,
    /// How many sends fail first, whatever the weather.
    fail_first: Mutex<u32>,
    log: Arc<Mutex<BrokerLog>>,
}

impl FakeBroker {
    fn new(lanes: u32, dice: &Dice, weather: Weather) -> Self {
        Self {
            lanes,
            dice: dice.clone(),
            weather,
            down: HashSet::new(),
            fail_first: Mutex::new(0),
            log: Arc::default(),
        }
    }

    /// The lane of `stream`: the number after its dash, modulo the lane count.
    fn lane_of(&self, stream: &str) -> u32 {
        let id: u32 = stream
            .rsplit('-')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap();
        id % self.lanes
    }
}

/// Marks a lane's send as no longer in flight when the send ends, also when it is dropped.
struct InFlight {
    log: Arc<Mutex<BrokerLog>>,
    lane: u32,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut log) = self.log.lock() {
            log.busy.remove(&self.lane);
        }
    }
}

impl Publisher for FakeBroker {
    type Error = Unavailable;
    type Lane = u32;
    type Message = Sent;

    async fn prepare(&self, event: &RecordedEvent) -> Result<(u32, Sent), Unavailable> {
        let stream = event.stream_id.to_string();
        let sent = Sent {
            version: event.version,
            at: event.all_position(),
            stream: stream.clone(),
        };
        Ok((self.lane_of(&stream), sent))
    }

    async fn send(&self, lane: &u32, messages: &[Sent]) -> Result<usize, Unavailable> {
        assert!(!messages.is_empty(), "an empty send");
        {
            let mut log = self.log.lock().unwrap();
            assert!(log.busy.insert(*lane), "two sends in flight on lane {lane}");
            log.most_in_flight = log.most_in_flight.max(log.busy.len());
        }
        // A send dropped half way (the pump stopped) is no longer in flight either.
        let _in_flight = InFlight {
            log: Arc::clone(&self.log),
            lane: *lane,
        };
        let delay = self.dice.below(self.weather.max_delay_ms + 1);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let fails = {
            let mut fail_first = self.fail_first.lock().unwrap();
            let forced = *fail_first > 0;
            *fail_first = fail_first.saturating_sub(1);
            forced || self.down.contains(lane) || self.dice.chance(self.weather.fail)
        };
        let taken = if self.dice.chance(self.weather.partial) {
            1 + self.dice.below(messages.len() as u64) as usize
        } else {
            messages.len()
        };
        let mut log = self.log.lock().unwrap();
        if fails {
            log.failures += 1;
            if self.dice.chance(self.weather.stored_anyway) {
                log.stored
                    .entry(*lane)
                    .or_default()
                    .extend_from_slice(&messages[..taken]);
            }
            return Err(Unavailable);
        }
        log.stored
            .entry(*lane)
            .or_default()
            .extend_from_slice(&messages[..taken]);
        log.acknowledged
            .extend(messages[..taken].iter().map(|sent| sent.at));
        Ok(taken)
    }
}

/// A checkpoint store that is slow and fails now and then, and checks at every write that the
/// value written has every event up to it acknowledged by the broker.
struct CheckedCheckpoints {
    log: Arc<Mutex<BrokerLog>>,
    events: Arc<Vec<AllPosition>>,
    dice: Dice,
    fail_percent: u64,
    max_delay_ms: u64,
    /// Every value written, in order.
    written: Arc<Mutex<Vec<AllPosition>>>,
}

impl CheckpointStore for CheckedCheckpoints {
    type Error = Unavailable;

    async fn load(&mut self) -> Result<AllPosition, Unavailable> {
        Ok(self
            .written
            .lock()
            .unwrap()
            .last()
            .copied()
            .unwrap_or_default())
    }

    async fn store(&mut self, at: AllPosition) -> Result<(), Unavailable> {
        {
            let log = self.log.lock().unwrap();
            for event in self.events.iter().filter(|event| **event <= at) {
                assert!(
                    log.acknowledged.contains(event),
                    "checkpoint {at} written while {event} was not acknowledged"
                );
            }
        }
        let delay = self.dice.below(self.max_delay_ms + 1);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if self.dice.chance(self.fail_percent) {
            return Err(Unavailable);
        }
        let mut written = self.written.lock().unwrap();
        assert!(
            written.last().is_none_or(|last| *last < at),
            "the checkpoint moved backwards to {at} after {written:?}"
        );
        written.push(at);
        Ok(())
    }
}

fn event(stream: &str, version: u64, tx_id: u64, position: u64) -> RecordedEvent {
    RecordedEvent {
        position,
        tx_id,
        stream_id: StreamId::parse(stream).unwrap(),
        version,
        event_id: Uuid::new_v4(),
        event_type: "ItemAdded".to_owned(),
        schema_version: 1,
        data: serde_json::json!({}),
        metadata: EventMetadata::default(),
        recorded_at: chrono::Utc::now(),
    }
}

/// `count` events over `streams` streams (`cart-0` …), in `$all` order, versions per stream from
/// 0; a few share a transaction.
fn log_of(count: u64, streams: u64, dice: &Dice) -> Vec<RecordedEvent> {
    let mut versions: HashMap<u64, u64> = HashMap::new();
    let mut tx_id = 100;
    (1..=count)
        .map(|position| {
            if dice.chance(70) {
                tx_id += 1;
            }
            let stream = dice.below(streams);
            let version = versions.entry(stream).or_insert(0);
            let recorded = event(&format!("cart-{stream}"), *version, tx_id, position);
            *version += 1;
            recorded
        })
        .collect()
}

const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(1),
    max: Duration::from_millis(20),
};

/// A consumer's view of one sequence of deliveries: it applies the next expected item, drops a
/// repeat of one it applied, and fails on a gap (an item before an earlier one).
fn assert_repeats_but_no_gaps<K: fmt::Debug>(
    what: &str,
    deliveries: impl Iterator<Item = K>,
    index: impl Fn(&K) -> usize,
) -> usize {
    let mut next = 0;
    for delivery in deliveries {
        let i = index(&delivery);
        assert!(
            i <= next,
            "{what}: {delivery:?} delivered before item {next}"
        );
        if i == next {
            next += 1;
        }
    }
    next
}

/// Feeds `events` into a pump over `broker` in chunks, runs it to the end (everything
/// acknowledged), waits until the writer, retrying, stored the last event, and finishes the
/// checkpointer.
async fn run_to_end(
    broker: &FakeBroker,
    store: CheckedCheckpoints,
    events: &[RecordedEvent],
    limits: Limits,
) -> RelayMetrics {
    let written = Arc::clone(&store.written);
    let last = events.last().map(RecordedEvent::all_position);
    let metrics = RelayMetrics::default();
    let checkpointer = Checkpointer::start(store, AllPosition::START, BACKOFF, metrics.clone());
    let pump = Pump::new(BACKOFF, limits, metrics.clone());
    let (feed, mut taken) = mpsc::channel(16);
    let events = events.to_vec();
    let feeder = tokio::spawn(async move {
        for event in events {
            feed.send(event).await.unwrap();
        }
    });
    tokio::time::timeout(
        Duration::from_secs(3_600),
        pump.run(broker, &mut taken, &checkpointer),
    )
    .await
    .expect("everything is acknowledged in the end");
    feeder.await.unwrap();
    tokio::time::timeout(Duration::from_secs(3_600), async {
        while written.lock().unwrap().last().copied() != last {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the writer stores the last acknowledged event in the end");
    checkpointer.finish(Duration::from_secs(60)).await;
    metrics
}

#[tokio::test(start_paused = true)]
async fn the_checkpoint_never_passes_an_unacknowledged_event_and_each_queue_keeps_log_order() {
    let limits = Limits {
        max_batch_events: 6,
        max_pending_events: 40,
        max_sends_in_flight: 3,
    };
    for seed in 0..40 {
        let dice = Dice::new(seed);
        let weather = Weather {
            fail: dice.below(40),
            stored_anyway: 50,
            partial: 30,
            max_delay_ms: 1 + dice.below(20),
        };
        let broker = FakeBroker::new(5, &dice, weather);
        let events = log_of(300, 17, &dice);
        let positions: Arc<Vec<AllPosition>> =
            Arc::new(events.iter().map(RecordedEvent::all_position).collect());
        let written = Arc::<Mutex<Vec<AllPosition>>>::default();
        let store = CheckedCheckpoints {
            log: Arc::clone(&broker.log),
            events: Arc::clone(&positions),
            dice: dice.clone(),
            fail_percent: dice.below(50),
            max_delay_ms: dice.below(60),
            written: Arc::clone(&written),
        };

        let metrics = run_to_end(&broker, store, &events, limits).await;

        // The checks inside the fakes held (no early checkpoint, one send per lane, never
        // backwards); in the end everything is acknowledged and the checkpoint is the last event.
        let written = written.lock().unwrap();
        assert_eq!(written.last(), positions.last(), "seed {seed}");
        assert_eq!(metrics.published_events.get(), 300, "seed {seed}");
        let log = broker.log.lock().unwrap();
        assert!(
            log.most_in_flight <= limits.max_sends_in_flight,
            "seed {seed}"
        );
        assert_eq!(
            u64::from(log.failures),
            metrics.send_failures.get(),
            "seed {seed}"
        );

        // Per queue, the broker stored the queue's events in log order, with repeats only.
        for (lane, stored) in &log.stored {
            let order: HashMap<AllPosition, usize> = events
                .iter()
                .filter(|event| broker.lane_of(&event.stream_id.to_string()) == *lane)
                .enumerate()
                .map(|(i, event)| (event.all_position(), i))
                .collect();
            let applied = assert_repeats_but_no_gaps(
                &format!("seed {seed}, lane {lane}"),
                stored.iter(),
                |sent| order[&sent.at],
            );
            assert_eq!(applied, order.len(), "seed {seed}, lane {lane}");
        }
        // Per stream, so in particular: versions in order, repeats only.
        let mut by_stream: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for sent in log.stored.values().flatten() {
            by_stream
                .entry(&sent.stream)
                .or_default()
                .push(sent.version);
        }
        for (stream, versions) in by_stream {
            assert_repeats_but_no_gaps(
                &format!("seed {seed}, {stream}"),
                versions.into_iter(),
                |version| usize::try_from(*version).unwrap(),
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn several_queues_are_in_flight_at_once_but_never_two_sends_of_one_queue() {
    let dice = Dice::new(7);
    let broker = FakeBroker::new(
        4,
        &dice,
        Weather {
            max_delay_ms: 10,
            ..CALM
        },
    );
    let events = log_of(400, 12, &dice);
    let store = CheckedCheckpoints {
        log: Arc::clone(&broker.log),
        events: Arc::new(events.iter().map(RecordedEvent::all_position).collect()),
        dice: dice.clone(),
        fail_percent: 0,
        max_delay_ms: 5,
        written: Arc::default(),
    };
    let limits = Limits {
        max_batch_events: 8,
        max_pending_events: 64,
        max_sends_in_flight: 4,
    };
    let metrics = run_to_end(&broker, store, &events, limits).await;
    let log = broker.log.lock().unwrap();
    assert!(
        log.most_in_flight >= 2,
        "the pump overlapped sends of several queues ({} at most)",
        log.most_in_flight
    );
    assert_eq!(metrics.send_failures.get(), 0);
    let stored: usize = log.stored.values().map(Vec::len).sum();
    assert_eq!(stored, 400, "a calm broker receives each event once");
    // More than one batch per queue: the order above held across batches.
    assert!(metrics.batches.get() > 4 * 2);
}

#[tokio::test(start_paused = true)]
async fn a_lane_that_fails_k_times_resends_from_its_first_unacknowledged_event_before_the_checkpoint_moves()
 {
    let dice = Dice::new(1);
    let broker = FakeBroker::new(1, &dice, CALM);
    *broker.fail_first.lock().unwrap() = 3;
    let events = vec![
        event("cart-1", 0, 10, 1),
        event("cart-2", 0, 10, 2),
        event("cart-1", 1, 11, 3),
    ];
    let positions: Vec<AllPosition> = events.iter().map(RecordedEvent::all_position).collect();
    let written = Arc::<Mutex<Vec<AllPosition>>>::default();
    let store = CheckedCheckpoints {
        log: Arc::clone(&broker.log),
        events: Arc::new(positions.clone()),
        dice: dice.clone(),
        fail_percent: 0,
        max_delay_ms: 0,
        written: Arc::clone(&written),
    };

    let metrics = run_to_end(&broker, store, &events, Limits::for_batch_size(8)).await;

    let log = broker.log.lock().unwrap();
    assert_eq!(log.failures, 3);
    let stored: Vec<(String, u64)> = log.stored[&0]
        .iter()
        .map(|sent| (sent.stream.clone(), sent.version))
        .collect();
    assert_eq!(
        stored,
        vec![
            ("cart-1".to_owned(), 0),
            ("cart-2".to_owned(), 0),
            ("cart-1".to_owned(), 1)
        ]
    );
    // The store checked at the write that all three were acknowledged by then.
    assert_eq!(*written.lock().unwrap(), vec![positions[2]]);
    assert_eq!(metrics.send_failures.get(), 3);
    assert_eq!(metrics.published_events.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_queue_that_never_takes_a_send_holds_the_checkpoint_before_its_first_event() {
    let dice = Dice::new(3);
    let mut broker = FakeBroker::new(2, &dice, CALM);
    broker.down.insert(1);
    // cart-1 is on the failing lane 1; its first event is the third.
    let events = vec![
        event("cart-0", 0, 10, 1),
        event("cart-2", 0, 11, 2),
        event("cart-1", 0, 12, 3),
        event("cart-0", 1, 13, 4),
        event("cart-2", 1, 14, 5),
    ];
    let written = Arc::<Mutex<Vec<AllPosition>>>::default();
    let store = CheckedCheckpoints {
        log: Arc::clone(&broker.log),
        events: Arc::new(events.iter().map(RecordedEvent::all_position).collect()),
        dice: dice.clone(),
        fail_percent: 0,
        max_delay_ms: 2,
        written: Arc::clone(&written),
    };
    let metrics = RelayMetrics::default();
    let checkpointer = Checkpointer::start(store, AllPosition::START, BACKOFF, metrics.clone());
    let pump = Pump::new(BACKOFF, Limits::for_batch_size(8), metrics.clone());
    let (feed, mut taken) = mpsc::channel(8);
    for event in &events {
        feed.send(event.clone()).await.unwrap();
    }
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        pump.run(&broker, &mut taken, &checkpointer),
    )
    .await;
    assert!(outcome.is_err(), "a failing queue keeps being retried");
    // The other lane's later events were published; the checkpoint waits for cart-1.
    assert_eq!(metrics.published_events.get(), 4);
    assert!(metrics.send_failures.get() > 3);
    assert_eq!(checkpointer.latest(), events[1].all_position());
    checkpointer.finish(Duration::from_secs(5)).await;
    assert_eq!(
        written.lock().unwrap().last(),
        Some(&events[1].all_position())
    );
}

/// A store whose writes take `delay`, failing the first `failures` ones.
struct SlowCheckpoints {
    delay: Duration,
    failures: u32,
    written: Arc<Mutex<Vec<AllPosition>>>,
}

impl CheckpointStore for SlowCheckpoints {
    type Error = Unavailable;

    async fn load(&mut self) -> Result<AllPosition, Unavailable> {
        Ok(AllPosition::START)
    }

    async fn store(&mut self, at: AllPosition) -> Result<(), Unavailable> {
        tokio::time::sleep(self.delay).await;
        if self.failures > 0 {
            self.failures -= 1;
            return Err(Unavailable);
        }
        self.written.lock().unwrap().push(at);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn publishing_does_not_wait_for_slow_checkpoint_writes_which_coalesce() {
    let dice = Dice::new(11);
    let broker = FakeBroker::new(
        3,
        &dice,
        Weather {
            max_delay_ms: 1,
            ..CALM
        },
    );
    let events = log_of(2_000, 9, &dice);
    let written = Arc::<Mutex<Vec<AllPosition>>>::default();
    let store = SlowCheckpoints {
        delay: Duration::from_millis(500),
        failures: 0,
        written: Arc::clone(&written),
    };
    let metrics = RelayMetrics::default();
    let checkpointer = Checkpointer::start(store, AllPosition::START, BACKOFF, metrics.clone());
    let pump = Pump::new(BACKOFF, Limits::for_batch_size(16), metrics.clone());
    let (feed, mut taken) = mpsc::channel(2_000);
    for event in &events {
        feed.send(event.clone()).await.unwrap();
    }
    drop(feed);
    let started = tokio::time::Instant::now();
    pump.run(&broker, &mut taken, &checkpointer).await;
    let publishing = started.elapsed();
    // Hundreds of sends of up to 1 ms each, while each write takes 500 ms.
    assert!(
        publishing < Duration::from_millis(1_000),
        "publishing waited for checkpoint writes: {publishing:?}"
    );
    checkpointer.finish(Duration::from_secs(5)).await;
    let written = written.lock().unwrap();
    assert!(
        written.len() <= 4,
        "writes coalesce: {} writes",
        written.len()
    );
    assert_eq!(written.last(), Some(&events[1_999].all_position()));
}

#[tokio::test(start_paused = true)]
async fn on_stop_the_last_acknowledged_checkpoint_is_stored_even_after_failed_writes() {
    let dice = Dice::new(5);
    let mut broker = FakeBroker::new(2, &dice, CALM);
    broker.down.insert(1);
    // Lane 0: cart-0, cart-2; lane 1 (down): cart-1, whose first event is the last here.
    let events = vec![
        event("cart-0", 0, 10, 1),
        event("cart-2", 0, 11, 2),
        event("cart-0", 1, 12, 3),
        event("cart-1", 0, 13, 4),
        event("cart-2", 1, 14, 5),
    ];
    let written = Arc::<Mutex<Vec<AllPosition>>>::default();
    let store = SlowCheckpoints {
        delay: Duration::from_millis(200),
        // Every write fails until the stop: only the final attempts may succeed.
        failures: 1_000,
        written: Arc::clone(&written),
    };
    let metrics = RelayMetrics::default();
    let checkpointer = Checkpointer::start(store, AllPosition::START, BACKOFF, metrics.clone());
    let pump = Pump::new(BACKOFF, Limits::for_batch_size(8), metrics.clone());
    let (feed, mut taken) = mpsc::channel(8);
    for event in &events {
        feed.send(event.clone()).await.unwrap();
    }
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        pump.run(&broker, &mut taken, &checkpointer),
    )
    .await;
    assert!(written.lock().unwrap().is_empty());
    assert!(metrics.checkpoint_write_failures.get() > 0);
    assert_eq!(checkpointer.latest(), events[2].all_position());
    // The stop: publishing is over (the run future is gone); the final attempts still fail.
    checkpointer.finish(Duration::from_secs(5)).await;
    assert!(written.lock().unwrap().is_empty(), "every write failed");

    // Again with a store that recovers on the second of the final attempts.
    let written = Arc::<Mutex<Vec<AllPosition>>>::default();
    let store = SlowCheckpoints {
        delay: Duration::from_millis(200),
        failures: 1,
        written: Arc::clone(&written),
    };
    let checkpointer = Checkpointer::start(store, AllPosition::START, BACKOFF, metrics.clone());
    let pump = Pump::new(BACKOFF, Limits::for_batch_size(8), metrics.clone());
    let (feed, mut taken) = mpsc::channel(8);
    for event in &events {
        feed.send(event.clone()).await.unwrap();
    }
    let mut run = Box::pin(pump.run(&broker, &mut taken, &checkpointer));
    // Stop as soon as the first three events are acknowledged, before any write completed.
    while checkpointer.latest() < events[2].all_position() {
        tokio::select! {
            () = &mut run => unreachable!("lane 1 is down"),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
    drop(run);
    assert!(written.lock().unwrap().is_empty());
    checkpointer.finish(Duration::from_secs(5)).await;
    assert_eq!(*written.lock().unwrap(), vec![events[2].all_position()]);
    assert_eq!(
        metrics.checkpoint_position.get(),
        i64::try_from(events[2].position).unwrap()
    );
}

#[test]
fn backoff_grows_to_its_cap_with_at_most_half_jitter() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(1_000),
    };
    let first = backoff.delay(1);
    assert!(first <= Duration::from_millis(100) && first >= Duration::from_millis(50));
    let late = backoff.delay(30);
    assert!(late <= Duration::from_millis(1_000) && late >= Duration::from_millis(500));
}
