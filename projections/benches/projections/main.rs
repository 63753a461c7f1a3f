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
//! (Redis) read models run in process, over 200 registered customers and 200 products of one SKU.
//! An open-loop generator ticks at each rate of `BENCH_RATES` (default `200,1000`) for
//! `BENCH_SECS` (default 60); every tick spawns one append (`BalanceDeposited` for customers,
//! `SkuRestocked` for catalog), decided by the aggregate, on the streams round robin. Appends to
//! one stream wait for each other (each needs the previous version), other streams do not. The
//! commit time is stamped when the append returns; the read model's version markers are polled
//! every 1 ms, and an event counts as shown at the end of the first poll whose marker for its
//! stream reaches its version. Also reported: the time from the commit to a bystander orderly
//! consumer of the relay's topics receiving it (log → relay → broker → consumer, no read
//! model), and the append's own time. Baseline beside it: as many encoded copies of the events
//! the customers row appended, sent with `send_ordered` at the same rate to an orderly consumer
//! that notes the receive time: send call → receive. Samples of the first 2 s are left out.

#![recursion_limit = "256"]

mod lag;
mod raw;
mod stats;
mod throughput;
mod workload;

use std::{collections::HashMap, sync::Arc, time::Duration};

use event_store::{EventStore, RecordedEvent, testing::TestDatabase};
use projections::{KeySpace, Projection, read_models, runtime::ProjectionApp};
use rocketmq_gateway::{BrokerClient, BrokerClientConfig, EventTopics, OrderlyConsumerConfig};
use settings::{ExposeSecret, Settings};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{lag::Markers, stats::ms, workload::Fleet};

/// Samples of the first seconds of a row are left out.
pub const WARM_UP: Duration = Duration::from_secs(2);
/// Streams of each lag workload and of the relay backlog.
const STREAMS: usize = 200;
const POOL: u32 = 16;

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

#[tokio::main]
async fn main() {
    let backlog = env_or("BENCH_RELAY_EVENTS", 20_000usize).max(STREAMS);
    let pairs = env_or("BENCH_PAIRS", 3usize).max(1);
    let secs = env_or("BENCH_SECS", 60u64).max(3);
    let rates: Vec<u32> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "200,1000".to_owned())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let base = Settings::load().expect("settings load");
    let broker = BrokerClient::new(BrokerClientConfig::new(&base.rocketmq.name_server))
        .expect("broker client");
    eprintln!(
        "projections benchmark: relay backlog {backlog} events, {pairs} pairs; lag at {rates:?} \
         events/s for {secs} s each, pool {POOL}, {} queues per topic",
        base.rocketmq.queues
    );

    let relay_row = {
        let db = TestDatabase::create(POOL).await;
        let store = db.store();
        throughput::backlog(&store, backlog, STREAMS).await;
        throughput::compare(&broker, &db.settings, &store, pairs).await
    };

    let db = TestDatabase::create(POOL).await;
    let store = db.store();
    let settings = unique_settings(&db.settings, "blag");
    let customers = workload::customers(&store, STREAMS).await;
    let products = workload::products(&store, STREAMS).await;
    let (stop_relay, relay_stopped) = oneshot::channel::<()>();
    let relay = ::relay::Relay::build(settings.clone())
        .await
        .expect("relay builds");
    let relay_task = tokio::spawn(relay.run(async {
        relay_stopped.await.ok();
    }));
    let app = ProjectionApp::build(
        &settings,
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
    let markers = |model: &str| match model {
        "customers" => Markers::Postgres(db.pool.clone(), "customers"),
        _ => Markers::Redis(
            redis.clone(),
            KeySpace::new(&settings.projections.redis_prefix, "catalog").key("versions"),
        ),
    };
    // The seeded streams reach both read models first: consumers are running and warm.
    markers("customers")
        .wait_for(&versions(&customers).await, Duration::from_secs(180))
        .await;
    markers("catalog")
        .wait_for(&versions(&products).await, Duration::from_secs(180))
        .await;

    let duration = Duration::from_secs(secs);
    let (mut lag_rows, mut raw_rows) = (Vec::new(), Vec::new());
    for &rate in &rates {
        let row = lag::run(
            &store,
            &customers,
            markers("customers"),
            &deliveries,
            "customers",
            rate,
            duration,
        )
        .await;
        let events = appended_since(&store, "customer", row.from_position).await;
        lag_rows.push(row);
        raw_rows.push(raw::run(&broker, &settings, &events, rate).await);
        lag_rows.push(
            lag::run(
                &store,
                &products,
                markers("catalog"),
                &deliveries,
                "catalog",
                rate,
                duration,
            )
            .await,
        );
    }

    bystander.shutdown().await;
    app.shutdown().await.expect("projection app stops");
    stop_relay.send(()).ok();
    relay_task.await.expect("relay task").expect("relay stops");
    broker.shutdown().await.ok();
    delete_redis_keys(redis, &settings.projections.redis_prefix).await;

    print_relay(&relay_row);
    print_lag(&lag_rows, &raw_rows);
}

/// Each stream of `fleet` and its current version.
async fn versions(fleet: &Fleet) -> HashMap<String, u64> {
    let mut expected = HashMap::new();
    for target in fleet {
        let target = target.lock().await;
        let version = match &*target {
            workload::Target::Customer(entity) => entity.version(),
            workload::Target::Product(entity, _) => entity.version(),
        };
        expected.insert(target.stream().to_string(), version.unwrap_or(0));
    }
    expected
}

/// The events of `category` after global position `after`.
async fn appended_since(store: &EventStore, category: &str, after: u64) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    let mut from = after;
    loop {
        let page = store
            .read_category(category, from, 1_000)
            .await
            .expect("read category");
        let Some(last) = page.last() else {
            return events;
        };
        from = last.position;
        events.extend(page);
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

fn print_relay(row: &throughput::Row) {
    let rate =
        |trials: &[throughput::Trial]| stats::median(trials.iter().map(|t| t.rate).collect());
    let startup = |trials: &[throughput::Trial]| {
        stats::median(trials.iter().map(|t| ms(t.startup)).collect())
    };
    println!();
    println!(
        "| relay throughput ({} events, {} pairs) | events/s | start-up ms |",
        row.events,
        row.ours.len()
    );
    println!("|---|---:|---:|");
    println!(
        "| relay: log → broker, checkpointed | {:.0} | {:.0} |",
        rate(&row.ours),
        startup(&row.ours)
    );
    println!(
        "| baseline: `send_events`, batches of 256 | {:.0} | {:.0} |",
        rate(&row.raw),
        startup(&row.raw)
    );
    println!(
        "| relay ÷ baseline (median of pairs) | {:.2} | |",
        row.ratio
    );
}

fn print_lag(rows: &[lag::Row], raw_rows: &[raw::Row]) {
    println!();
    println!(
        "| end-to-end lag | offered/s | offered | appended | observed | append errors | \
         p50 ms | p99 ms | max ms | commit → delivered p50 / p99 ms | append p50 / p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let store = if r.model == "customers" {
            "PostgreSQL"
        } else {
            "Redis"
        };
        println!(
            "| append → `{}` ({store}) | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
            r.model,
            r.rate,
            r.offered,
            r.appended,
            r.observed,
            r.errors,
            r.lag.p50,
            r.lag.p99,
            r.lag.max,
            r.delivered.p50,
            r.delivered.p99,
            r.append.p50,
            r.append.p99,
        );
    }
    for r in raw_rows {
        println!(
            "| baseline: RocketMQ `send_ordered` → orderly consumer | {} | {} | {} sent | {} received | {} send errors | {:.1} | {:.1} | {:.1} | | |",
            r.rate, r.offered, r.sent, r.received, r.errors, r.lag.p50, r.lag.p99, r.lag.max,
        );
    }
}
