//! End-to-end lag at a fixed offered rate: append committed → read model's version marker shows
//! it, with the relay and the projection runtime running in process.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use event_store::EventStore;
use redis::aio::MultiplexedConnection;
use rocketmq_gateway::{ConsumeOutcome, ReceivedMessage, property};
use sqlx::PgPool;
use tokio::{task::JoinSet, time::MissedTickBehavior};

use crate::{WARM_UP, stats::Spread, workload::Fleet};

/// How long a row waits, after its last append, for the read model to show every event.
const DRAIN: Duration = Duration::from_secs(30);
/// How often the version markers are polled.
const POLL: Duration = Duration::from_millis(1);

/// Where a read model keeps its per-stream version markers.
pub enum Markers {
    /// `projection_versions` rows of the projection.
    Postgres(PgPool, &'static str),
    /// The projection's `versions` hash.
    Redis(MultiplexedConnection, String),
}

impl Markers {
    async fn read(&mut self) -> Vec<(String, u64)> {
        match self {
            Self::Postgres(pool, projection) => {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT stream_id, version FROM projection_versions WHERE projection = $1",
                )
                .bind(*projection)
                .fetch_all(&*pool)
                .await
                .expect("read markers");
                rows.into_iter()
                    .map(|(stream, version)| (stream, version as u64))
                    .collect()
            }
            Self::Redis(conn, key) => {
                let hash: HashMap<String, String> = redis::cmd("HGETALL")
                    .arg(&*key)
                    .query_async(conn)
                    .await
                    .expect("read markers");
                hash.into_iter()
                    .filter_map(|(stream, version)| Some((stream, version.parse().ok()?)))
                    .collect()
            }
        }
    }

    /// Waits until every stream of `expected` has a marker at least at its version.
    pub async fn wait_for(&mut self, expected: &HashMap<String, u64>, deadline: Duration) {
        let started = Instant::now();
        loop {
            let markers: HashMap<String, u64> = self.read().await.into_iter().collect();
            let behind = expected
                .iter()
                .filter(|(stream, version)| markers.get(*stream).is_none_or(|m| m < version))
                .count();
            if behind == 0 {
                return;
            }
            assert!(
                started.elapsed() < deadline,
                "read model still behind on {behind} streams"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// When a bystander consumer of the relay's topics received each (stream, version).
pub type Deliveries = Arc<Mutex<Vec<(String, u64, Instant)>>>;

/// The bystander's handler: records the receive time, nothing else.
pub fn record_delivery(deliveries: Deliveries) -> impl Fn(&ReceivedMessage) -> ConsumeOutcome {
    move |message: &ReceivedMessage| {
        let now = Instant::now();
        let stream = message.properties.get(property::STREAM_ID);
        let version = message.properties.get(property::VERSION);
        if let (Some(stream), Some(Ok(version))) = (stream, version.map(|v| v.parse())) {
            let mut deliveries = deliveries.lock().unwrap();
            deliveries.push((stream.clone(), version, now));
        }
        ConsumeOutcome::Done
    }
}

/// What one row measured.
pub struct Row {
    pub model: &'static str,
    pub rate: u32,
    pub offered: u64,
    pub appended: u64,
    pub observed: u64,
    pub errors: u64,
    /// Append returned → marker seen, of events appended after the warm-up.
    pub lag: Spread,
    /// Append returned → the bystander consumer received the relay's message.
    pub delivered: Spread,
    /// Append call → append returned, of events appended after the warm-up.
    pub append: Spread,
    /// Global log position before the row's first append.
    pub from_position: u64,
}

type Pending = Arc<Mutex<HashMap<String, BTreeMap<u64, Instant>>>>;

/// Offers `rate` appends per second for `duration` to `fleet`'s streams, round robin, open loop,
/// and measures until `markers` show them.
pub async fn run(
    store: &EventStore,
    fleet: &Fleet,
    mut markers: Markers,
    deliveries: &Deliveries,
    model: &'static str,
    rate: u32,
    duration: Duration,
) -> Row {
    let from_position: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("log head");
    deliveries.lock().unwrap().clear();
    let pending: Pending = Arc::default();
    let counted: Arc<Mutex<Vec<(String, u64, Instant)>>> = Arc::default();
    let append_times: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let appended = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let warm_end = start + WARM_UP;

    let poller = {
        let (pending, stop) = (pending.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut lags, mut observed) = (Vec::new(), 0u64);
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let seen = markers.read().await;
                // The marker was reached at the latest when the query answered.
                let now = Instant::now();
                let mut pending = pending.lock().unwrap();
                for (stream, version) in seen {
                    let Some(waiting) = pending.get_mut(&stream) else {
                        continue;
                    };
                    let later = waiting.split_off(&(version + 1));
                    for (_, stamp) in std::mem::replace(waiting, later) {
                        observed += 1;
                        if stamp >= warm_end {
                            lags.push(now.saturating_duration_since(stamp));
                        }
                    }
                }
            }
            (lags, observed)
        })
    };

    let ticks = u64::from(rate) * duration.as_secs();
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    // Burst (the default): a late tick is made up at once, so the offered rate holds.
    let mut tasks = JoinSet::new();
    for i in 0..ticks {
        interval.tick().await;
        while tasks.try_join_next().is_some() {}
        let target = fleet[i as usize % fleet.len()].clone();
        let (store, pending, counted) = (store.clone(), pending.clone(), counted.clone());
        let (appended, errors, append_times) =
            (appended.clone(), errors.clone(), append_times.clone());
        tasks.spawn(async move {
            let mut target = target.lock().await;
            let stream = target.stream().to_string();
            let called = Instant::now();
            match target.next(&store).await {
                Ok(version) => {
                    let committed = Instant::now();
                    drop(target);
                    pending
                        .lock()
                        .unwrap()
                        .entry(stream.clone())
                        .or_default()
                        .insert(version, committed);
                    appended.fetch_add(1, Ordering::Relaxed);
                    if committed >= warm_end {
                        counted.lock().unwrap().push((stream, version, committed));
                        append_times.lock().unwrap().push(committed - called);
                    }
                }
                Err(error) => {
                    if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("  append failed: {error}");
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let drained = Instant::now() + DRAIN;
    while Instant::now() < drained && pending.lock().unwrap().values().any(|w| !w.is_empty()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (lags, observed) = poller.await.expect("poller");

    let stamps: HashMap<(String, u64), Instant> = counted
        .lock()
        .unwrap()
        .drain(..)
        .map(|(stream, version, at)| ((stream, version), at))
        .collect();
    let delivered: Vec<Duration> = deliveries
        .lock()
        .unwrap()
        .drain(..)
        .filter_map(|(stream, version, at)| {
            let stamp = stamps.get(&(stream, version))?;
            Some(at.saturating_duration_since(*stamp))
        })
        .collect();
    let append = std::mem::take(&mut *append_times.lock().unwrap());
    let row = Row {
        model,
        rate,
        offered: ticks,
        appended: appended.load(Ordering::Relaxed),
        observed,
        errors: errors.load(Ordering::Relaxed),
        lag: Spread::of(lags),
        delivered: Spread::of(delivered),
        append: Spread::of(append),
        from_position: u64::try_from(from_position).unwrap_or(0),
    };
    eprintln!(
        "  {model:<9} {rate:>5}/s: offered {} appended {} observed {} errors {} | lag p50 {:.1} \
         p99 {:.1} max {:.1} ms | delivered p50 {:.1} p99 {:.1} ms | append p50 {:.1} p99 {:.1} ms",
        row.offered,
        row.appended,
        row.observed,
        row.errors,
        row.lag.p50,
        row.lag.p99,
        row.lag.max,
        row.delivered.p50,
        row.delivered.p99,
        row.append.p50,
        row.append.p99,
    );
    row
}
