//! `scripts/bench replay`: how fast a read model is rebuilt from the log
//! (`ProjectionRuntime::replay`, docs/read-model-generations.md), beside the same rows and keys
//! written by the fastest bare method in the same run, and the audit queries' latency on that
//! log (docs/benchmark-method.md).
//!
//! **The log.** In a fresh database, `BENCH_REPLAY_EVENTS` (default 1 000 000) product events
//! generated through the event store (`generate.rs`): `BENCH_REPLAY_PRODUCTS` (default 2 000)
//! product streams of 3 SKUs each, appended `BENCH_REPLAY_BATCH` (default 100) events per append
//! by `BENCH_REPLAY_WRITERS` (default 4) writers; each append is one user action with a
//! correlation id of its own. Both read models below read the `product` category, so the whole
//! log is theirs.
//!
//! **Rounds** (`BENCH_PAIRS`, default 3), each A B A B:
//! - ours: `replay` of `inventory_ledger` (PostgreSQL, one row per SKU per stock event), timed
//!   from the call to its return: a new generation's tables, every page of `$all` applied
//!   (`projections.replay_page` events a page, `BENCH_REPLAY_PAGE` overrides), the switch;
//! - baseline: the same rows (copied out of the replayed generation once) `COPY`ed in binary
//!   into an unindexed copy of the table (`bare.rs`);
//! - ours: `replay` of `catalog` (Redis), the same way;
//! - baseline: the same Redis writes (computed by `catalog` from the log beforehand) sent as
//!   plain pipelines of one page of events each.
//!
//! Events/s are the log's events over the time; the ratio is the median of the rounds' ratios.
//! The retired generation of each replay is dropped after it, untimed. Beside them, as stages:
//! reading `$all` alone in the same pages (what the replay cannot go faster than without
//! overlapping the read with the writes), and the time Redis spent inside the apply script
//! (`INFO commandstats`, Redis-wide: another client's scripts would count too).
//!
//! **Audit** (`audit.rs`): after the rounds, `BENCH_AUDIT_QUERIES` (default 1 000) correlation
//! chains and as many type + time pages, one after another on one connection; p50 / p99.
//!
//! Quick check: `BENCH_REPLAY_EVENTS=200000 BENCH_PAIRS=1 scripts/bench replay`.

mod audit;
mod bare;
mod generate;
mod report;
mod stats;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_store::{AllPosition, EventStore, MAX_BATCH_EVENTS, testing::TestDatabase};
use projections::{
    KeySpace, Projection,
    read_models::{catalog::Catalog, inventory_ledger::InventoryLedger},
    runtime::{ProgressSink, ProjectionMetrics, ProjectionRuntime, RetryPolicy},
};
use prometheus_client::registry::Registry;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use settings::ExposeSecret;
use uuid::Uuid;

/// Connections: the writers', the replay's lock, its apply and its reads, the baselines'.
const POOL: u32 = 16;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One replay.
pub struct Replayed {
    /// Events of the model's categories applied.
    pub events: u64,
    /// From the call to its return.
    pub took: Duration,
    /// Pages applied.
    pub pages: usize,
    /// From the call to the first page applied (the generation's tables or token).
    pub setup: Duration,
    /// From the last page applied to the return (the switch).
    pub switch: Duration,
    /// Redis time inside scripts during it (µs), for the Redis model.
    pub script_usec: u64,
}

#[tokio::main]
async fn main() {
    let target = env_or("BENCH_REPLAY_EVENTS", 1_000_000u64).max(1_000);
    let rounds = env_or("BENCH_PAIRS", 3usize).max(1);
    let products = env_or("BENCH_REPLAY_PRODUCTS", 2_000usize).max(1);
    let per_append = env_or("BENCH_REPLAY_BATCH", 100usize).clamp(10, MAX_BATCH_EVENTS);
    let writers = env_or("BENCH_REPLAY_WRITERS", 4usize).max(1);
    let queries = env_or("BENCH_AUDIT_QUERIES", 1_000usize).max(10);
    let db = TestDatabase::create(POOL).await;
    let page = env_or(
        "BENCH_REPLAY_PAGE",
        db.settings.projections.replay_page as usize,
    )
    .clamp(1, 10_000);
    eprintln!(
        "replay benchmark: {target} events on {products} product streams, {per_append} per \
         append, {writers} writers; replay pages of {page}; {rounds} rounds; {queries} audit \
         queries of each kind"
    );

    let store = db.store();
    let log = generate::run(&store, target, products, per_append, writers).await;
    eprintln!(
        "generated {} events in {} appends in {:.1} s ({:.0} events/s)",
        log.events,
        log.appends,
        log.took.as_secs_f64(),
        log.events as f64 / log.took.as_secs_f64()
    );
    sqlx::query("VACUUM ANALYZE events")
        .execute(&db.pool)
        .await
        .expect("vacuum analyze");

    let prefix = format!("breplay{}", &Uuid::new_v4().simple().to_string()[..10]);
    let client = redis::Client::open(db.settings.redis.url.expose_secret()).expect("redis url");
    let manager = ConnectionManager::new(client.clone())
        .await
        .expect("redis connects");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects");
    let runtime = ProjectionRuntime::new(
        db.pool.clone(),
        store.clone(),
        manager,
        prefix.clone(),
        RetryPolicy {
            max_attempts: 3,
            retry_delay: Duration::from_millis(100),
        },
        ProjectionMetrics::register(&mut Registry::default()),
    )
    .with_replay(page, Duration::from_secs(3600));
    let ledger = Projection::Postgres(Arc::new(InventoryLedger));
    let catalog = Projection::Redis(Arc::new(Catalog));

    let read_alone = read_all(&store, page).await;
    eprintln!(
        "$all alone, pages of {page}: {:.1} s ({:.0} events/s)",
        read_alone.as_secs_f64(),
        log.events as f64 / read_alone.as_secs_f64()
    );
    let bare_keys = KeySpace::new(&prefix, "bare");
    let (pipelines, commands) = bare::catalog_pipelines(&store, &bare_keys, page).await;

    let mut trials = report::Trials::default();
    let mut ledger_rows: Option<(Vec<u8>, u64)> = None;
    for round in 1..=rounds {
        let a = replay(&runtime, &ledger, None).await;
        let (rows, count) = match &ledger_rows {
            Some(rows) => rows,
            None => ledger_rows.insert(bare::ledger_rows(&db.pool).await),
        };
        let b = bare::copy_ledger(&db.pool, rows, *count).await;
        let c = replay(&runtime, &catalog, Some(&mut redis)).await;
        let d = bare::pipelined(&mut redis, &pipelines).await;
        bare::delete_keys(&mut redis, &format!("{prefix}:bare:*")).await;
        eprintln!(
            "round {round}: inventory_ledger replay {:.1} s, COPY {:.1} s; catalog replay {:.1} \
             s (scripts {:.1} s inside Redis), pipelines {:.1} s",
            a.took.as_secs_f64(),
            b.as_secs_f64(),
            c.took.as_secs_f64(),
            c.script_usec as f64 / 1e6,
            d.as_secs_f64()
        );
        trials.ledger.push((a, b));
        trials.catalog.push((c, d));
    }
    let audit = audit::run(&db.pool, &log, queries).await;
    bare::delete_keys(&mut redis, &format!("{prefix}:*")).await;

    report::print(&report::Run {
        log: &log,
        page,
        rounds,
        ledger_rows: ledger_rows.map_or(0, |(_, count)| count),
        redis_commands: commands,
        read_alone,
        trials: &trials,
        audit: &audit,
        queries,
    });
}

/// Replays `projection` once (a new generation, switched in); then drops the generation it
/// replaced, untimed.
async fn replay(
    runtime: &ProjectionRuntime,
    projection: &Projection,
    redis: Option<&mut MultiplexedConnection>,
) -> Replayed {
    let pages = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = pages.clone();
    let sink: ProgressSink = Arc::new(move |_| seen.lock().expect("pages").push(Instant::now()));
    let mut redis = redis;
    let before = match redis.as_deref_mut() {
        Some(redis) => script_usec(redis).await,
        None => 0,
    };
    let started = Instant::now();
    let report = runtime
        .replay(projection, Some(sink))
        .await
        .expect("replay");
    let took = started.elapsed();
    let after = match redis {
        Some(redis) => script_usec(redis).await,
        None => 0,
    };
    assert_eq!(report.parked, 0, "nothing parked");
    let pages = pages.lock().expect("pages").clone();
    let first = pages.first().map_or(took, |at| *at - started);
    let last = pages.last().map_or(took, |at| *at - started);
    runtime
        .drop_generation(projection, report.replaced)
        .await
        .expect("drop the replaced generation");
    Replayed {
        events: report.events,
        took,
        pages: pages.len(),
        setup: first,
        switch: took.saturating_sub(last),
        script_usec: after.saturating_sub(before),
    }
}

/// Microseconds Redis spent in EVAL/EVALSHA so far.
async fn script_usec(redis: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .expect("info");
    info.lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            line.split(',')
                .find_map(|field| field.strip_prefix("usec="))
                .and_then(|usec| usec.parse::<u64>().ok())
        })
        .sum()
}

/// Reads the whole of `$all` in pages of `page`, as the replay does, and nothing else.
async fn read_all(store: &EventStore, page: usize) -> Duration {
    let started = Instant::now();
    let mut from = AllPosition::START;
    loop {
        let slice = store.read_all(from, page).await.expect("read $all");
        if slice.events.is_empty() {
            return started.elapsed();
        }
        from = slice.next;
    }
}
