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
use rocketmq::{ConsumeOutcome, ReceivedMessage, property};
use sqlx::PgPool;
use tokio::{task::JoinSet, time::MissedTickBehavior};

use crate::{
    WARM_UP,
    stats::Spread,
    workload::{self, Fleet},
};

/// How often the version markers are polled.
const POLL: Duration = Duration::from_millis(1);
/// A row whose appends reached less than this share of the asked rate was not offered that rate.
pub const KEPT_UP: f64 = 0.95;
/// The generator stops offering (and says so) while this much of the asked rate is still
/// unfinished: appends queued a second deep are no longer the asked rate, and an unbounded queue
/// would keep the log busy long after the row.
const MAX_QUEUED: Duration = Duration::from_secs(1);
/// How long a measurement waits for the read models to catch up with earlier appends first.
pub const SETTLE: Duration = Duration::from_secs(180);

/// Where a read model keeps its per-stream version markers.
#[derive(Clone)]
pub enum Markers {
    /// `projection_versions` rows of the projection, read through a pool of their own so the
    /// generator's appends never delay a poll.
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

    /// Waits until every stream of `expected` has a marker at least at its version, at most
    /// until `deadline`; then says on how many streams the read model is still behind.
    pub async fn wait_for(
        &mut self,
        expected: &HashMap<String, u64>,
        deadline: Instant,
    ) -> Result<(), usize> {
        loop {
            let markers: HashMap<String, u64> = self.read().await.into_iter().collect();
            let behind = expected
                .iter()
                .filter(|(stream, version)| markers.get(*stream).is_none_or(|m| m < version))
                .count();
            if behind == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(behind);
            }
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

/// One read model's workload: the streams the generator appends to and where the model's
/// markers show them.
pub struct Lane {
    /// The projection's name.
    pub model: &'static str,
    /// Where the read model lives, for the report.
    pub backend: &'static str,
    /// The category of the appended events (the relay's topic).
    pub category: &'static str,
    pub fleet: Fleet,
    pub markers: Markers,
}

/// What the generator offers: `rate` appends per second for `duration`, then waits up to `drain`
/// for the read model to show them.
#[derive(Clone, Copy)]
pub struct Offer {
    pub rate: u32,
    pub duration: Duration,
    pub drain: Duration,
}

/// What one row measured.
#[derive(Clone)]
pub struct Row {
    pub model: &'static str,
    pub backend: &'static str,
    /// The asked rate.
    pub rate: u32,
    /// Appends started (ticks the generator offered).
    pub offered: u64,
    /// Ticks not offered because a second's worth of appends was still unfinished.
    pub dropped: u64,
    pub appended: u64,
    /// Appends committed per second, from the first tick to the last commit.
    pub achieved: f64,
    pub observed: u64,
    /// Appended events the read model had not shown when the row stopped waiting; those after
    /// the warm-up count in `lag` with the time waited, a lower bound.
    pub unseen: u64,
    pub errors: u64,
    /// Streams on which the read models were still behind earlier appends when the row started
    /// (they did not catch up within the settle deadline).
    pub started_behind: usize,
    /// Append returned → marker seen, of events appended after the warm-up.
    pub lag: Spread,
    /// Append returned → the bystander consumer received the relay's message.
    pub delivered: Spread,
    /// Append call → append returned, of events appended after the warm-up.
    pub append: Spread,
    /// Global log position before the row's first append.
    pub from_position: u64,
    /// Global log position after the row's last append.
    pub to_position: u64,
}

impl Row {
    /// Whether the generator fell behind the asked rate: it dropped ticks, or the appends
    /// committed at less than [`KEPT_UP`] of the rate.
    pub fn behind(&self) -> bool {
        self.dropped > 0 || self.achieved < KEPT_UP * f64::from(self.rate)
    }

    /// Whether the asked rate was offered cleanly and its append → visible p99 stayed under
    /// `limit`; otherwise why not.
    pub fn sustained(&self, limit: Duration) -> Result<(), String> {
        let limit_ms = crate::stats::ms(limit);
        if self.started_behind > 0 {
            Err(format!("started behind on {} streams", self.started_behind))
        } else if self.errors > 0 {
            Err(format!("{} append errors", self.errors))
        } else if self.behind() {
            Err(format!("behind, achieved {:.0}/s", self.achieved))
        } else if self.lag.samples == 0 {
            Err("no samples after the warm-up".to_owned())
        } else if self.lag.p99 >= limit_ms {
            Err(format!("p99 {:.0} ms", self.lag.p99))
        } else {
            Ok(())
        }
    }
}

/// The lanes and what they share; every measurement of the run goes through it.
pub struct Bench<'a> {
    pub store: &'a EventStore,
    pub lanes: &'a [Lane],
    pub deliveries: &'a Deliveries,
}

impl Bench<'_> {
    /// Waits until every lane's read model shows its streams' last appended versions, so a
    /// measurement does not start behind an earlier one's backlog. On the deadline, says on how
    /// many streams the models are still behind.
    pub async fn settle(&self, deadline: Duration) -> Result<(), usize> {
        let deadline = Instant::now() + deadline;
        let mut behind = 0;
        for lane in self.lanes {
            let expected = workload::versions(&lane.fleet).await;
            if let Err(n) = lane.markers.clone().wait_for(&expected, deadline).await {
                behind += n;
            }
        }
        if behind == 0 { Ok(()) } else { Err(behind) }
    }

    /// A row of `lane` at `offer`, after the read models caught up (or the settle deadline
    /// passed: the row then says so).
    pub async fn row(&self, lane: &Lane, offer: Offer) -> Row {
        let started_behind = self.settle(SETTLE).await.err().unwrap_or(0);
        if started_behind > 0 {
            eprintln!(
                "  read models still behind on {started_behind} streams after {} s; measuring anyway",
                SETTLE.as_secs()
            );
        }
        let mut row = run(self.store, lane, self.deliveries, offer).await;
        row.started_behind = started_behind;
        row
    }
}

type Pending = Arc<Mutex<HashMap<String, BTreeMap<u64, Instant>>>>;

async fn log_head(store: &EventStore) -> u64 {
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("log head");
    u64::try_from(head).unwrap_or(0)
}

/// Offers `offer.rate` appends per second for `offer.duration` to `lane`'s streams, round robin,
/// open loop, and measures until its markers show them.
pub async fn run(store: &EventStore, lane: &Lane, deliveries: &Deliveries, offer: Offer) -> Row {
    let Offer {
        rate,
        duration,
        drain,
    } = offer;
    let model = lane.model;
    let from_position = log_head(store).await;
    deliveries.lock().unwrap().clear();
    let pending: Pending = Arc::default();
    let counted: Arc<Mutex<Vec<(String, u64, Instant)>>> = Arc::default();
    let append_times: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let appended = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    // Nanoseconds from the start to the latest commit.
    let last_commit = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let warm_end = start + WARM_UP;

    let poller = {
        let (pending, stop, mut markers) = (pending.clone(), stop.clone(), lane.markers.clone());
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
    let max_queued = (f64::from(rate) * MAX_QUEUED.as_secs_f64()).max(100.0) as usize;
    let mut dropped = 0u64;
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    // Burst (the default): a late tick is made up at once, so the offered rate holds.
    let mut tasks = JoinSet::new();
    for i in 0..ticks {
        interval.tick().await;
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= max_queued {
            if dropped == 0 {
                eprintln!(
                    "  {model} at {rate}/s: {} appends unfinished; ticks not offered until they drain",
                    tasks.len()
                );
            }
            dropped += 1;
            continue;
        }
        let target = lane.fleet[i as usize % lane.fleet.len()].clone();
        let (store, pending, counted) = (store.clone(), pending.clone(), counted.clone());
        let (appended, errors, append_times, last_commit) = (
            appended.clone(),
            errors.clone(),
            append_times.clone(),
            last_commit.clone(),
        );
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
                    let since_start = (committed - start).as_nanos();
                    last_commit.fetch_max(
                        u64::try_from(since_start).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
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
    let to_position = log_head(store).await;
    let drained = Instant::now() + drain;
    while Instant::now() < drained && pending.lock().unwrap().values().any(|w| !w.is_empty()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut lags, observed) = poller.await.expect("poller");
    // Events still unseen count with the time waited for them: leaving them out would hide
    // exactly the slowest ones.
    let gave_up = Instant::now();
    let mut unseen = 0u64;
    for stamp in pending.lock().unwrap().values().flat_map(|w| w.values()) {
        unseen += 1;
        if *stamp >= warm_end {
            lags.push(gave_up.saturating_duration_since(*stamp));
        }
    }

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
    let appended = appended.load(Ordering::Relaxed);
    let window = Duration::from_nanos(last_commit.load(Ordering::Relaxed));
    let row = Row {
        model,
        backend: lane.backend,
        rate,
        offered: ticks - dropped,
        dropped,
        appended,
        achieved: appended as f64 / window.as_secs_f64().max(1e-9),
        observed,
        unseen,
        errors: errors.load(Ordering::Relaxed),
        started_behind: 0,
        lag: Spread::of(lags),
        delivered: Spread::of(delivered),
        append: Spread::of(append),
        from_position,
        to_position,
    };
    eprintln!(
        "  {model:<9} {rate:>5}/s: achieved {:.0}/s{} offered {} (not offered {}) appended {} \
         observed {} unseen {} errors {} | lag p50 {:.1} p99 {:.1} max {:.1} ms | delivered p50 \
         {:.1} p99 {:.1} ms | append p50 {:.1} p99 {:.1} ms",
        row.achieved,
        if row.behind() { " (behind)" } else { "" },
        row.offered,
        row.dropped,
        row.appended,
        row.observed,
        row.unseen,
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
