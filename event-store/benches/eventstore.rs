//! `scripts/bench eventstore`: our append and `$all` read against raw SQL on the same server, in
//! the same run.
//!
//! Baselines (docs/benchmark-method.md): the same rows INSERTed into `raw_events`, a plain table
//! with the same columns, constraints and indexes (`LIKE events INCLUDING ALL`), through the same
//! pool — one autocommit INSERT per event for single-event appends, one multi-row INSERT per batch
//! for batch appends. Trials alternate ours/raw (A B A B A B) and the median of the per-pair ratios
//! is reported, so drift of a shared 2-core machine hits both sides alike.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use event_store::{
    AllPosition, EventMetadata, EventStore, ExpectedVersion, NewEvent, StreamId,
    testing::TestDatabase,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

type Recorded = chrono::DateTime<chrono::Utc>;

const TRIAL: Duration = Duration::from_secs(3);
const PAIRS: usize = 3;
const POOL: u32 = 32;

#[derive(Clone, Copy)]
enum Side {
    Ours,
    Raw,
}

fn payload(i: u64) -> Value {
    json!({
        "sku_id": format!("sku-{}", i % 1000),
        "quantity": (i % 9) + 1,
        "unit_price": { "amount": 1299, "currency": "EUR" },
        "title": "Organic cotton T-shirt, navy, size M",
        "reservation_id": Uuid::new_v4(),
    })
}

fn metadata() -> EventMetadata {
    EventMetadata {
        correlation_id: Some(Uuid::new_v4()),
        causation_id: Some(Uuid::new_v4()),
        actor: Some("customer:bench".into()),
        command_id: Some(Uuid::new_v4()),
        command_fingerprint: None,
        traceparent: None,
        extra: Default::default(),
    }
}

fn batch(n: usize, seq: u64) -> Vec<NewEvent> {
    (0..n as u64)
        .map(|i| NewEvent::new("StockReserved", payload(seq + i)).with_metadata(metadata()))
        .collect()
}

const RAW_INSERT: &str = "INSERT INTO raw_events \
    (stream_id, category, stream_version, event_id, event_type, schema_version, data, metadata) \
    SELECT $1, $2, $3 + e.ord - 1, e.id, e.t, e.v, e.d::jsonb, e.m::jsonb \
    FROM unnest($4::uuid[], $5::text[], $6::int4[], $7::text[], $8::text[]) \
         WITH ORDINALITY AS e(id, t, v, d, m, ord)";

const RAW_INSERT_ONE: &str = "INSERT INTO raw_events \
    (stream_id, category, stream_version, event_id, event_type, schema_version, data, metadata) \
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)";

async fn raw_append(pool: &PgPool, stream: &StreamId, version: i64, events: &[NewEvent]) {
    if let [e] = events {
        sqlx::query(RAW_INSERT_ONE)
            .bind(stream.as_str())
            .bind(stream.category())
            .bind(version)
            .bind(e.event_id)
            .bind(&e.event_type)
            .bind(e.schema_version)
            .bind(e.data.to_string())
            .bind(serde_json::to_string(&e.metadata).unwrap())
            .execute(pool)
            .await
            .unwrap();
        return;
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<i32> = events.iter().map(|e| e.schema_version).collect();
    let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
    let meta: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(&e.metadata).unwrap())
        .collect();
    sqlx::query(RAW_INSERT)
        .bind(stream.as_str())
        .bind(stream.category())
        .bind(version)
        .bind(&ids)
        .bind(&types)
        .bind(&versions)
        .bind(&data)
        .bind(&meta)
        .execute(pool)
        .await
        .unwrap();
}

/// Events per second written by `writers` closed-loop writers for one trial.
async fn trial(store: &EventStore, side: Side, writers: usize, batch_size: usize) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
            tokio::spawn(async move {
                // Each writer owns fresh streams, so appends never conflict: we measure the
                // write path, not contention.
                let stream = StreamId::new("bench", Uuid::new_v4()).unwrap();
                let mut version: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let events = batch(batch_size, version);
                    match side {
                        Side::Ours => {
                            let expected = match version {
                                0 => ExpectedVersion::NoStream,
                                v => ExpectedVersion::Exact(v - 1),
                            };
                            store.append(&stream, expected, &events).await.unwrap();
                        }
                        Side::Raw => {
                            raw_append(store.pool(), &stream, version as i64, &events).await;
                        }
                    }
                    version += batch_size as u64;
                    written.fetch_add(batch_size as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    tokio::time::sleep(TRIAL).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    written.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct Row {
    name: String,
    ours: f64,
    raw: f64,
    ratio: f64,
}

async fn compare(name: &str, pairs: usize, mut run: impl AsyncFnMut(Side) -> f64) -> Row {
    let (mut ours, mut raw, mut ratios) = (vec![], vec![], vec![]);
    for _ in 0..pairs {
        let o = run(Side::Ours).await;
        let r = run(Side::Raw).await;
        ours.push(o);
        raw.push(r);
        ratios.push(o / r);
    }
    let row = Row {
        name: name.to_owned(),
        ours: median(ours),
        raw: median(raw),
        ratio: median(ratios),
    };
    eprintln!(
        "  {:<38} ours {:>9.0}/s  raw {:>9.0}/s  ratio {:.2}",
        row.name, row.ours, row.raw, row.ratio
    );
    row
}

/// Events per second paging `$all` from the start (ours: gap-safe `read_all`), or paging the raw
/// table by position (raw).
async fn catch_up(store: &EventStore, side: Side, page: usize) -> f64 {
    let start = Instant::now();
    let mut read = 0usize;
    match side {
        Side::Ours => {
            let mut from = AllPosition::START;
            loop {
                let slice = store.read_all(from, page).await.unwrap();
                if slice.events.is_empty() {
                    break;
                }
                read += slice.events.len();
                from = slice.next;
            }
        }
        Side::Raw => {
            let mut after = 0i64;
            loop {
                type RawRow = (
                    i64,
                    i64,
                    String,
                    i64,
                    Uuid,
                    String,
                    i32,
                    Value,
                    Value,
                    Recorded,
                );
                let rows: Vec<RawRow> = sqlx::query_as(
                    "SELECT position, tx_id::text::int8, stream_id, stream_version, event_id, \
                         event_type, schema_version, data, metadata, recorded_at \
                         FROM raw_events WHERE position > $1 ORDER BY position LIMIT $2",
                )
                .bind(after)
                .bind(page as i64)
                .fetch_all(store.pool())
                .await
                .unwrap();
                let Some(last) = rows.last() else { break };
                after = last.0;
                read += rows.len();
            }
        }
    }
    read as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::create(POOL).await;
    sqlx::query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        .execute(&db.pool)
        .await
        .unwrap();
    let store = db.store();
    eprintln!(
        "event store benchmark: {TRIAL:?} trials, {PAIRS} ours/raw pairs per row, pool {POOL}"
    );

    // BENCH_LEVELS=1x1,8x100 (writers x batch size) limits the append rows, to look into one.
    let levels: Vec<(usize, usize)> = match std::env::var("BENCH_LEVELS") {
        Ok(spec) => spec
            .split(',')
            .filter_map(|l| l.split_once('x'))
            .filter_map(|(w, b)| Some((w.trim().parse().ok()?, b.trim().parse().ok()?)))
            .collect(),
        Err(_) => vec![(1, 1), (8, 1), (32, 1), (1, 100), (8, 100)],
    };
    let mut rows = Vec::new();
    for (writers, batch_size) in levels {
        let name = if batch_size == 1 {
            format!("append 1 event, {writers} writer(s)")
        } else {
            format!("append {batch_size}-event batches, {writers} writer(s)")
        };
        rows.push(
            compare(&name, PAIRS, async |side| {
                trial(&store, side, writers, batch_size).await
            })
            .await,
        );
    }
    let (ours_count, raw_count): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM raw_events)")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    sqlx::query("VACUUM ANALYZE events")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE raw_events")
        .execute(&db.pool)
        .await
        .unwrap();
    let name = format!("$all catch-up read, pages of 1000 ({ours_count} / {raw_count} events)");
    rows.push(
        compare(&name, PAIRS, async |side| {
            catch_up(&store, side, 1000).await
        })
        .await,
    );

    // Row-level security (docs/database-roles.md): the same appends through our store, as a
    // service's login (policies checked) and as the owner (they do not apply to it).
    sqlx::query(
        "INSERT INTO service_categories (role, category, may_append, may_read) \
         VALUES ('commerce_cart', 'bench', true, true)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut as_cart = db.settings.clone();
    as_cart.database.url = event_store::roles::login_url(
        settings::ExposeSecret::expose_secret(&db.settings.database.url),
        "cart",
    )
    .into();
    as_cart.database.max_connections = POOL;
    let cart = EventStore::new(
        event_store::pool_options(&as_cart.database)
            .connect_with(event_store::connect_options(&as_cart.database).unwrap())
            .await
            .expect("the cart login connects (scripts/setup makes it)"),
        as_cart.event_store.clone(),
    );
    let mut rls_rows = Vec::new();
    for (writers, batch_size) in [(8, 1), (8, 100)] {
        let name = format!("append {batch_size}-event batches, {writers} writers");
        rls_rows.push(
            compare(&name, PAIRS, async |side| match side {
                Side::Ours => trial(&cart, Side::Ours, writers, batch_size).await,
                Side::Raw => trial(&store, Side::Ours, writers, batch_size).await,
            })
            .await,
        );
    }

    println!();
    println!("| row-level security (events/s) | as the cart login | as the owner | ratio |");
    println!("|---|---:|---:|---:|");
    for r in rls_rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.2} |",
            r.name, r.ours, r.raw, r.ratio
        );
    }
    println!();
    println!("| event store (events/s) | ours | raw SQL | ours/raw |");
    println!("|---|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.2} |",
            r.name, r.ours, r.raw, r.ratio
        );
    }
}
