//! Audit latency on the generated log: the two queries of the audit service
//! (`gateways/query/src/audit/`), as SQL of the same shape, one after another on one connection.
//!
//! - Correlation chain: every event of one correlation id in log order
//!   (`events_correlation_idx`), as `chain.rs` reads it (at most 2 001 rows).
//! - Type + time page: the first 100 (+1, to know there is more) events of one type in a time
//!   range, keyset order `(recorded_at, position)` (`events_type_time_idx`), as `range.rs` pages.

use std::time::Instant;

use chrono::TimeDelta;
use sqlx::PgPool;

use crate::generate::{Log, Rng};
use crate::stats::Spread;

const COLUMNS: &str = "position, tx_id::text::int8 AS tx_id, stream_id, stream_version, event_id, \
                       event_type, schema_version, data, metadata, recorded_at";
const CHAIN_LIMIT: i64 = 2_001;
const PAGE_LIMIT: i64 = 101;
/// Event types the type + time pages ask for, in turn.
const TYPES: [&str; 4] = [
    "StockReserved",
    "StockCommitted",
    "StockReleased",
    "SkuRestocked",
];
/// The time range of a type + time page.
const RANGE: TimeDelta = TimeDelta::seconds(60);

pub struct Query {
    pub latency: Spread,
    pub rows_per_query: f64,
}

pub struct Audit {
    pub chain: Query,
    pub page: Query,
}

/// `queries` of each kind, interleaved (chain, page, chain, page…), after 20 of each unmeasured.
pub async fn run(pool: &PgPool, log: &Log, queries: usize) -> Audit {
    let mut conn = pool.acquire().await.expect("connection");
    let chain_sql = format!(
        "SELECT {COLUMNS} FROM events WHERE metadata ->> 'correlation_id' = $1 \
         ORDER BY position LIMIT $2"
    );
    let page_sql = format!(
        "SELECT {COLUMNS} FROM events WHERE event_type = $1 \
         AND (recorded_at, position) > ($2, $3) AND recorded_at < $4 \
         ORDER BY recorded_at, position LIMIT $5"
    );
    let mut rng = Rng::new(42);
    let span = (log.to - log.from).num_microseconds().unwrap_or(0).max(1) as u64;
    let (mut chains, mut pages) = (Vec::new(), Vec::new());
    let (mut chain_rows, mut page_rows) = (0usize, 0usize);
    for i in 0..queries + 20 {
        let correlation = log.correlations[rng.below(log.correlations.len() as u64) as usize];
        let started = Instant::now();
        let rows = sqlx::query(&chain_sql)
            .bind(correlation.hyphenated().to_string())
            .bind(CHAIN_LIMIT)
            .fetch_all(&mut *conn)
            .await
            .expect("correlation chain");
        let chain = started.elapsed();
        assert!(!rows.is_empty(), "every correlation id has events");

        let from = log.from + TimeDelta::microseconds(rng.below(span) as i64);
        let started = Instant::now();
        let page = sqlx::query(&page_sql)
            .bind(TYPES[i % TYPES.len()])
            .bind(from)
            .bind(0i64)
            .bind(from + RANGE)
            .bind(PAGE_LIMIT)
            .fetch_all(&mut *conn)
            .await
            .expect("type + time page");
        let paged = started.elapsed();
        if i >= 20 {
            chains.push(chain);
            pages.push(paged);
            chain_rows += rows.len();
            page_rows += page.len();
        }
    }
    let per = |rows: usize| rows as f64 / queries as f64;
    Audit {
        chain: Query {
            latency: Spread::of(chains),
            rows_per_query: per(chain_rows),
        },
        page: Query {
            latency: Spread::of(pages),
            rows_per_query: per(page_rows),
        },
    }
}
