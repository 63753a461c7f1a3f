//! The harness: closed-loop clients, trials, the event store baseline, the statistics.

use std::{
    collections::BTreeMap,
    future::Future,
    time::{Duration, Instant},
};

use event_store::{Direction, EventStore, ExpectedVersion, NewEvent, StreamId};
use uuid::Uuid;

/// One closed-loop client: one command in flight at a time.
pub trait Client: Send + 'static {
    /// Sends one command and waits for its answer; an error is named by its gRPC code.
    fn call(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// A kind of command under test: seeds what its clients need and hands them out.
pub trait Workload {
    type Client: Client;
    /// The event type the command writes (the baseline appends copies of one).
    const EVENT_TYPE: &'static str;
    /// `clients` clients for one trial expected to make about `calls` calls in all, on freshly
    /// seeded aggregates. Not timed.
    async fn clients(&mut self, clients: usize, calls: u64) -> Vec<Self::Client>;
}

/// What one trial measured.
#[derive(Default)]
pub struct Trial {
    /// Successful calls per second.
    pub rate: f64,
    /// Every successful call's round trip.
    pub latencies: Vec<Duration>,
    /// Failed calls by gRPC code.
    pub errors: BTreeMap<String, u64>,
    /// Successful calls, including those that completed after the trial's end.
    pub succeeded: u64,
}

/// Runs `clients` closed-loop for `duration`. Only calls that complete within it count.
pub async fn trial<C: Client>(clients: Vec<C>, duration: Duration) -> Trial {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let mut done = Trial::default();
                loop {
                    let sent = Instant::now();
                    if sent >= deadline {
                        return done;
                    }
                    let outcome = client.call().await;
                    let finished = Instant::now();
                    if outcome.is_ok() {
                        done.succeeded += 1;
                    }
                    if finished > deadline {
                        return done;
                    }
                    match outcome {
                        Ok(()) => done.latencies.push(finished - sent),
                        Err(code) => *done.errors.entry(code).or_default() += 1,
                    }
                }
            })
        })
        .collect();
    let mut all = Trial::default();
    for task in tasks {
        let done = task.await.expect("client task");
        all.latencies.extend(done.latencies);
        all.succeeded += done.succeeded;
        for (code, n) in done.errors {
            *all.errors.entry(code).or_default() += n;
        }
    }
    all.rate = all.latencies.len() as f64 / duration.as_secs_f64();
    all
}

/// The baseline client: appends copies of one event to a stream of its own.
pub struct Appender {
    store: EventStore,
    stream: StreamId,
    next: u64,
    template: NewEvent,
}

impl Client for Appender {
    async fn call(&mut self) -> Result<(), String> {
        let expected = match self.next {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v - 1),
        };
        let mut event = self.template.clone();
        event.event_id = Uuid::new_v4();
        event.metadata.command_id = Some(Uuid::new_v4());
        event.metadata.causation_id = event.metadata.command_id;
        self.store
            .append(&self.stream, expected, &[event])
            .await
            .map_err(|e| format!("append: {e}"))?;
        self.next += 1;
        Ok(())
    }
}

pub fn appenders(store: &EventStore, template: &(String, NewEvent), n: usize) -> Vec<Appender> {
    (0..n)
        .map(|_| Appender {
            store: store.clone(),
            stream: StreamId::new(&template.0, Uuid::new_v4()).expect("stream id"),
            next: 0,
            template: template.1.clone(),
        })
        .collect()
}

/// A copy of the last `event_type` event written, and its stream's category.
pub async fn template(store: &EventStore, event_type: &str) -> (String, NewEvent) {
    let (stream, version): (String, i64) = sqlx::query_as(
        "SELECT stream_id, stream_version FROM events WHERE event_type = $1 \
         ORDER BY position DESC LIMIT 1",
    )
    .bind(event_type)
    .fetch_one(store.pool())
    .await
    .expect("the warm-up wrote an event of the command");
    let stream = StreamId::parse(stream).expect("stream id");
    let recorded = store
        .read_stream(&stream, Direction::Forward, version as u64, 1)
        .await
        .expect("read event")
        .remove(0);
    let event = NewEvent::new(recorded.event_type, recorded.data)
        .with_schema_version(recorded.schema_version)
        .with_metadata(recorded.metadata);
    (stream.category().to_owned(), event)
}

pub async fn event_count(store: &EventStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count events")
}

/// Nearest-rank percentile of sorted `xs`.
pub fn percentile(xs: &[Duration], p: f64) -> Duration {
    if xs.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// One side of a row: median rate, percentiles over all its trials' calls.
pub struct Side {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: BTreeMap<String, u64>,
}

impl Side {
    pub fn of(trials: Vec<Trial>) -> Self {
        let rate = median(trials.iter().map(|t| t.rate).collect());
        let mut latencies = Vec::new();
        let mut errors = BTreeMap::new();
        for t in trials {
            latencies.extend(t.latencies);
            for (code, n) in t.errors {
                *errors.entry(code).or_default() += n;
            }
        }
        latencies.sort_unstable();
        Self {
            rate,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            errors,
        }
    }
}

pub struct Row {
    pub name: String,
    pub clients: usize,
    pub ours: Side,
    pub raw: Side,
    pub ratio: f64,
    pub events_per_command: f64,
}

/// The bench's shared pieces: the timing and the event store behind the services.
pub struct Bench {
    pub store: EventStore,
    pub duration: Duration,
}

impl Bench {
    /// `pairs` ours/baseline pairs of trials of `workload` at `clients` clients.
    pub async fn compare<W: Workload>(
        &self,
        name: &str,
        workload: &mut W,
        clients: usize,
        pairs: usize,
        estimate: &mut f64,
    ) -> Row {
        let template = template(&self.store, W::EVENT_TYPE).await;
        let (mut ours, mut raw, mut ratios) = (vec![], vec![], vec![]);
        let (mut events, mut commands) = (0i64, 0u64);
        for _ in 0..pairs {
            let calls = (*estimate * self.duration.as_secs_f64() * 1.5) as u64;
            let seeded = workload.clients(clients, calls).await;
            let before = event_count(&self.store).await;
            let o = trial(seeded, self.duration).await;
            events += event_count(&self.store).await - before;
            commands += o.succeeded;
            *estimate = estimate.max(o.rate);
            let r = trial(appenders(&self.store, &template, clients), self.duration).await;
            ratios.push(o.rate / r.rate);
            ours.push(o);
            raw.push(r);
        }
        let row = Row {
            name: name.to_owned(),
            clients,
            ours: Side::of(ours),
            raw: Side::of(raw),
            ratio: median(ratios),
            events_per_command: events as f64 / commands.max(1) as f64,
        };
        eprintln!(
            "  {:<28} {:>2} clients: {:>6.0} cmd/s p50 {:>5.1} ms p99 {:>5.1} ms | append {:>6.0} ev/s \
             p50 {:>5.1} ms p99 {:>5.1} ms | ratio {:.2} | errors {}",
            row.name,
            row.clients,
            row.ours.rate,
            ms(row.ours.p50),
            ms(row.ours.p99),
            row.raw.rate,
            ms(row.raw.p50),
            ms(row.raw.p99),
            row.ratio,
            errors(&row.ours.errors),
        );
        row
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn errors(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "0".to_owned();
    }
    counts
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
