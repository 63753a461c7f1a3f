//! The baselines: the same rows and keys the replay writes, written by the fastest bare method,
//! with everything computed beforehand so only the write is timed.
//!
//! - PostgreSQL: the ledger rows of the replayed generation, copied out once in binary, then
//!   `COPY … FROM STDIN (FORMAT binary)` in one statement into a fresh table
//!   `LIKE rm_inventory_ledger` (columns and NOT NULL only: no primary key, no index, no check).
//! - Redis: every event's writes as `catalog` computes them (the same commands the replay's
//!   script runs, under a key space of their own), sent as plain pipelines of one page of events
//!   each: no script, no markers, no JSON.

use std::time::{Duration, Instant};

use event_store::{AllPosition, EventStore};
use futures::StreamExt;
use projections::{KeySpace, RedisProjection, read_models::catalog::Catalog};
use redis::aio::MultiplexedConnection;
use sqlx::PgPool;

/// The ledger table of the live generation, in PostgreSQL's binary COPY format.
pub async fn ledger_rows(pool: &PgPool) -> (Vec<u8>, u64) {
    let mut conn = pool.acquire().await.expect("connection");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM public.rm_inventory_ledger")
        .fetch_one(&mut *conn)
        .await
        .expect("count ledger rows");
    let mut bytes = Vec::new();
    let mut out = conn
        .copy_out_raw("COPY public.rm_inventory_ledger TO STDOUT (FORMAT binary)")
        .await
        .expect("copy out");
    while let Some(chunk) = out.next().await {
        bytes.extend_from_slice(&chunk.expect("copy out chunk"));
    }
    (bytes, rows as u64)
}

/// COPYs `rows` into a new unindexed copy of the ledger table; returns the time of the COPY
/// (the table is created before and dropped after, untimed).
pub async fn copy_ledger(pool: &PgPool, rows: &[u8], expected: u64) -> Duration {
    let mut conn = pool.acquire().await.expect("connection");
    sqlx::query("DROP TABLE IF EXISTS bench_bare_ledger")
        .execute(&mut *conn)
        .await
        .expect("drop bare table");
    sqlx::query("CREATE TABLE bench_bare_ledger (LIKE public.rm_inventory_ledger)")
        .execute(&mut *conn)
        .await
        .expect("create bare table");
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY bench_bare_ledger FROM STDIN (FORMAT binary)")
        .await
        .expect("copy in");
    for chunk in rows.chunks(1 << 20) {
        copy.send(chunk).await.expect("copy chunk");
    }
    let copied = copy.finish().await.expect("copy finishes");
    let took = started.elapsed();
    assert_eq!(copied, expected, "the bare COPY wrote every ledger row");
    sqlx::query("DROP TABLE bench_bare_ledger")
        .execute(&mut *conn)
        .await
        .expect("drop bare table");
    took
}

/// Pipelines of `catalog`'s writes for the whole log, one per `page` events, under `keys`;
/// also how many commands they hold.
pub async fn catalog_pipelines(
    store: &EventStore,
    keys: &KeySpace,
    page: usize,
) -> (Vec<redis::Pipeline>, u64) {
    let mut pipelines = Vec::new();
    let mut commands = 0;
    let mut from = AllPosition::START;
    loop {
        let slice = store.read_all(from, page).await.expect("read $all");
        if slice.events.is_empty() {
            break;
        }
        from = slice.next;
        let mut pipe = redis::pipe();
        for event in &slice.events {
            for write in Catalog.writes(keys, event).expect("catalog writes") {
                let (command, args) = write.args.split_first().expect("a command");
                pipe.cmd(command).arg(args).ignore();
                commands += 1;
            }
        }
        pipelines.push(pipe);
    }
    (pipelines, commands)
}

/// Sends `pipelines` one after another; returns the time.
pub async fn pipelined(
    redis: &mut MultiplexedConnection,
    pipelines: &[redis::Pipeline],
) -> Duration {
    let started = Instant::now();
    for pipe in pipelines {
        pipe.query_async::<()>(redis).await.expect("pipeline");
    }
    started.elapsed()
}

/// Deletes every key matching `pattern` (SCAN + UNLINK).
pub async fn delete_keys(redis: &mut MultiplexedConnection, pattern: &str) -> u64 {
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(5000)
            .query_async(redis)
            .await
            .expect("scan");
        if !keys.is_empty() {
            deleted += keys.len() as u64;
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(redis)
                .await
                .expect("unlink");
        }
        if next == 0 {
            return deleted;
        }
        cursor = next;
    }
}
