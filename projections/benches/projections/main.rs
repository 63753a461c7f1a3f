//! `scripts/bench projections`: the relay's throughput and the end-to-end lag from a committed
//! append to the read model, each beside a bare RocketMQ baseline measured in the same run.
//!
//! **Relay throughput.** A backlog of `BENCH_RELAY_EVENTS` (default 20 000) real customer events
//! (registrations, then `BalanceDeposited` 10 per append, on 200 streams) in a fresh database.
//! Ours: [`relay::Relay`] in process, from an empty checkpoint (a new relay name and topic
//! prefix per trial), timed from its first acknowledged batch until its checkpoint gauge is the
//! log's last event: events/s of log read + encode + send + checkpoint. Baseline: the same events,
//! encoded beforehand with `OutgoingEvent::encode`, sent with `Producer::send_events` in batches
//! of the relay's batch size, one after another, timed from the first acknowledged batch. The
//! start-up (relay: leadership, producer, topic checks; baseline: producer) up to the first
//! acknowledged batch is reported apart. Trials alternate relay/baseline (A B A B A B,
//! `BENCH_PAIRS`, default 3); the ratio is the median of the per-pair ratios
//! (docs/benchmark-method.md).
//!
//! **End-to-end lag** (docs/benchmark-method.md). In another fresh database: the relay and a
//! [`projections::runtime::ProjectionApp`] with the `customers` (PostgreSQL) and `catalog`
//! (Redis) read models run in process, over `BENCH_STREAMS` (default 200) registered customers
//! and as many products of one SKU. An open-loop generator ticks at each rate of `BENCH_RATES`
//! (default `200,1000,5000,10000`) for `BENCH_SECS` (default 60); every tick spawns one append
//! (`BalanceDeposited` for customers, `SkuRestocked` for catalog), decided by the aggregate, on
//! the streams round robin. Appends to one stream wait for each other (each needs the previous
//! version), other streams do not: at 10 000/s on 200 streams each stream's append must finish
//! within 20 ms. The commit time is stamped when the append returns; the read model's version
//! markers are polled every 1 ms (on a connection of their own), and an event counts as shown at
//! the end of the first poll whose marker for its stream reaches its version; an event still
//! unseen 30 s after the row's last append counts with the time waited (a lower bound). Also
//! reported: the time from the commit to a bystander orderly consumer of the relay's topics
//! receiving it (log → relay → broker → consumer, no read model), and the append's own time.
//! Baseline beside it: as many encoded copies of the events the customers row appended, sent
//! with `send_ordered` at the same rate to an orderly consumer that notes the receive time: send
//! call → receive. Samples of the first 2 s are left out.
//!
//! **Offered, not just asked.** Each row shows the asked rate and the achieved one: appends
//! committed per second from the first tick to the last commit. While a second's worth of
//! appends is unfinished the generator offers no more ticks and counts them as not offered; a
//! row that dropped ticks or achieved less than 95 % of the asked rate is marked "behind", and
//! its rate does not count as offered. Before every row (and probe, and baseline) the read models
//! catch up with everything appended before it (markers at the streams' last versions, 180 s
//! deadline; a row that starts behind says so), so one overloaded row does not poison the next.
//!
//! **Max sustainable rate** per read model: the highest offered rate whose p99 append → visible
//! stays under 1 s, searched after the rows in the same database, relay and projection app
//! (`search.rs`): from the highest row rate that passed, up ×1.5 while probes pass, then
//! bisecting between the passing and the failing rate, each probe `BENCH_PROBE_SECS` (default
//! 10) long, at most 6 probes, up to `BENCH_MAX_RATE` (default 40 000; `0` skips the search).
//! The row shows the run at the rate found (p99 and all), and the raw RocketMQ baseline at that
//! rate: the rate row's if one ran at it, else the probe's events sent at its rate.
//!
//! **Connections**: the benchmark stays within its 34 of docs/connection-budget.md: generator
//! pool 20, relay 3 and projections 8 (as settings/config/local.toml gives those roles), one
//! for the marker polls, plus the append notifier and the relay's leadership lock.

#![recursion_limit = "256"]

mod lag;
mod raw;
mod report;
mod search;
mod stats;
mod throughput;
mod workload;

use std::{sync::Arc, time::Duration};

use event_store::{EventStore, RecordedEvent, testing::TestDatabase};
use projections::{Projection, read_models, runtime::ProjectionApp};
use rocketmq::{BrokerClient, BrokerClientConfig, EventTopics, OrderlyConsumerConfig};
use settings::{ExposeSecret, Settings};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::lag::{Bench, Lane, Markers, Offer};

/// Samples of the first seconds of a row are left out.
pub const WARM_UP: Duration = Duration::from_secs(2);
/// Streams of the relay backlog.
const BACKLOG_STREAMS: usize = 200;
/// Pools of the run, within the benchmark's 34 connections of docs/connection-budget.md: the
/// generator's (the test database's), the relay's and the projections' as in
/// settings/config/local.toml, one connection for the marker polls; on top, the append notifier
/// and the relay's leadership lock (1 each): 20 + 3 + 8 + 1 + 2 = 34.
const GENERATOR_POOL: u32 = 20;
const RELAY_POOL: u32 = 3;
const PROJECTIONS_POOL: u32 = 8;
/// How long a row waits, after its last append, for the read model to show every event.
const ROW_DRAIN: Duration = Duration::from_secs(30);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `settings` with topic prefix, relay name, producer and consumer groups and Redis prefix of
/// their own, and no metrics endpoints.
pub fn unique_settings(settings: &Settings, kind: &str) -> Settings {
    let tag = &Uuid::new_v4().simple().to_string()[..10];
    let mut settings = settings.clone();
    settings.rocketmq.topic_prefix = format!("{kind}{tag}");
    settings.relay.name = format!("{kind}{tag}");
    settings.relay.producer_group = format!("{kind}{tag}-producer");
    settings.relay.metrics_listen = String::new();
    settings.projections.group_prefix = format!("{kind}{tag}");
    settings.projections.redis_prefix = format!("{kind}{tag}");
    settings.projections.metrics_listen = String::new();
    settings
}

/// `settings` with a database pool of at most `max_connections`.
fn with_pool(settings: &Settings, max_connections: u32) -> Settings {
    let mut settings = settings.clone();
    settings.database.max_connections = max_connections;
    settings
}

#[tokio::main]
async fn main() {
    let backlog = env_or("BENCH_RELAY_EVENTS", 20_000usize).max(BACKLOG_STREAMS);
    let pairs = env_or("BENCH_PAIRS", 3usize).max(1);
    let secs = env_or("BENCH_SECS", 60u64).max(3);
    let streams = env_or("BENCH_STREAMS", 200usize).max(1);
    let probe_secs = env_or("BENCH_PROBE_SECS", 10u64).max(3);
    let max_rate = env_or("BENCH_MAX_RATE", 40_000u32);
    let rates: Vec<u32> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "200,1000,5000,10000".to_owned())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .filter(|&r| r > 0)
        .collect();
    let base = Settings::load().expect("settings load");
    let broker = BrokerClient::new(BrokerClientConfig::new(&base.rocketmq.name_server))
        .expect("broker client");
    let search = if max_rate > 0 {
        format!("max sustainable rate up to {max_rate}/s, probes of {probe_secs} s")
    } else {
        "no max sustainable rate search".to_owned()
    };
    eprintln!(
        "projections benchmark: relay backlog {backlog} events, {pairs} pairs; lag at {rates:?} \
         events/s for {secs} s each on {streams} streams per model, {search}; pools: generator \
         {GENERATOR_POOL}, relay {RELAY_POOL}, projections {PROJECTIONS_POOL}, markers 1; {} \
         queues per topic",
        base.rocketmq.queues
    );

    let relay_row = {
        let db = TestDatabase::create(GENERATOR_POOL).await;
        let store = db.store();
        throughput::backlog(&store, backlog, BACKLOG_STREAMS).await;
        let settings = with_pool(&db.settings, RELAY_POOL);
        throughput::compare(&broker, &settings, &store, pairs).await
    };

    let db = TestDatabase::create(GENERATOR_POOL).await;
    let store = db.store();
    let settings = unique_settings(&db.settings, "blag");
    let customers = workload::customers(&store, streams).await;
    let products = workload::products(&store, streams).await;
    let (stop_relay, relay_stopped) = oneshot::channel::<()>();
    let relay = ::relay::Relay::build(with_pool(&settings, RELAY_POOL))
        .await
        .expect("relay builds");
    let relay_task = tokio::spawn(relay.run(async {
        relay_stopped.await.ok();
    }));
    let app = ProjectionApp::build(
        &with_pool(&settings, PROJECTIONS_POOL),
        vec![
            Projection::Postgres(Arc::new(read_models::customers::Customers)),
            Projection::Redis(Arc::new(read_models::catalog::Catalog)),
        ],
    )
    .await
    .expect("projection app starts");
    let deliveries: lag::Deliveries = Arc::default();
    let topics = EventTopics::new(&settings.rocketmq.topic_prefix);
    let bystander = broker
        .start_orderly_consumer(
            OrderlyConsumerConfig::for_topics(
                format!("{}-bystander", settings.projections.group_prefix),
                [topics.topic("customer"), topics.topic("product")],
            ),
            lag::record_delivery(deliveries.clone()),
        )
        .await
        .expect("bystander consumer starts");
    let redis_client = redis::Client::open(settings.redis.url.expose_secret()).expect("redis url");
    let redis = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects");
    let markers_pool =
        event_store::connect_lazy(&with_pool(&settings, 1).database).expect("markers pool");
    let lanes = [
        Lane {
            model: "customers",
            backend: "PostgreSQL",
            category: "customer",
            fleet: customers,
            markers: Markers::Postgres(markers_pool.clone(), "customers"),
        },
        Lane {
            model: "catalog",
            backend: "Redis",
            category: "product",
            fleet: products,
            markers: Markers::Redis(
                redis.clone(),
                projections::runtime::live_redis_keys(
                    &mut redis.clone(),
                    &settings.projections.redis_prefix,
                    "catalog",
                )
                .await
                .expect("catalog epoch")
                .key("versions"),
            ),
        },
    ];
    let bench = Bench {
        store: &store,
        lanes: &lanes,
        deliveries: &deliveries,
    };
    // The seeded streams reach both read models first: consumers are running and warm.
    if let Err(behind) = bench.settle(Duration::from_secs(180)).await {
        panic!("the read models never showed the seeded streams ({behind} behind)");
    }

    let duration = Duration::from_secs(secs);
    let (mut lag_rows, mut raw_rows) = (Vec::new(), Vec::new());
    for &rate in &rates {
        let offer = Offer {
            rate,
            duration,
            drain: ROW_DRAIN,
        };
        let [customers, catalog] = &lanes;
        let row = bench.row(customers, offer).await;
        let events = appended(&store, customers.category, &row).await;
        lag_rows.push(row);
        raw_rows.push(
            baseline(
                &bench,
                &broker,
                &settings,
                customers.category,
                &events,
                rate,
            )
            .await,
        );
        lag_rows.push(bench.row(catalog, offer).await);
    }

    let mut found = Vec::new();
    if max_rate > 0 {
        let probe = Duration::from_secs(probe_secs);
        for lane in &lanes {
            found.push(search::max_rate(&bench, lane, &lag_rows, max_rate, probe).await);
        }
    }
    // The baseline at each max rate: the row's at that rate if there is one, else the same
    // events as the probe's, sent at its rate.
    let mut max_raw: Vec<Option<raw::Row>> = Vec::new();
    let mut measured = raw_rows.clone();
    for (f, lane) in found.iter().zip(&lanes) {
        let Some(best) = &f.best else {
            max_raw.push(None);
            continue;
        };
        if let Some(row) = measured.iter().find(|r| r.rate == best.rate) {
            max_raw.push(Some(row.clone()));
            continue;
        }
        let events = appended(&store, lane.category, best).await;
        let row = baseline(
            &bench,
            &broker,
            &settings,
            lane.category,
            &events,
            best.rate,
        )
        .await;
        measured.push(row.clone());
        max_raw.push(Some(row));
    }

    bystander.shutdown().await;
    app.shutdown().await.expect("projection app stops");
    stop_relay.send(()).ok();
    relay_task.await.expect("relay task").expect("relay stops");
    broker.shutdown().await.ok();
    markers_pool.close().await;
    delete_redis_keys(redis, &settings.projections.redis_prefix).await;

    report::relay(&relay_row);
    report::lag(&lag_rows, &raw_rows, &found, &max_raw, probe_secs);
}

/// The raw RocketMQ baseline of `events` at `rate`, once the read models caught up (so the
/// pipeline's backlog does not share the cores with it).
async fn baseline(
    bench: &Bench<'_>,
    broker: &BrokerClient,
    settings: &Settings,
    category: &str,
    events: &[RecordedEvent],
    rate: u32,
) -> raw::Row {
    if let Err(behind) = bench.settle(lag::SETTLE).await {
        eprintln!("  read models still behind on {behind} streams; baseline runs anyway");
    }
    raw::run(broker, settings, category, events, rate).await
}

/// The events of `category` that `row` appended.
async fn appended(store: &EventStore, category: &str, row: &lag::Row) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    let mut from = row.from_position;
    loop {
        let page = store
            .read_category(category, from, 1_000)
            .await
            .expect("read category");
        let Some(last) = page.last() else {
            return events;
        };
        from = last.position;
        let done = from >= row.to_position;
        events.extend(page.into_iter().filter(|e| e.position <= row.to_position));
        if done {
            return events;
        }
    }
}

async fn delete_redis_keys(mut redis: redis::aio::MultiplexedConnection, prefix: &str) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut redis)
        .await
        .unwrap_or_default();
    for chunk in keys.chunks(500) {
        let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut redis).await;
    }
}
