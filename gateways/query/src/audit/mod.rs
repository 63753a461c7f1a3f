//! Audit queries over the event log itself (not over the read models), shared by the gRPC
//! `commerce.audit.v1.AuditQueries` service and the `commerce-audit` CLI (docs/audit.md):
//!
//! | module | answers | index |
//! |---|---|---|
//! | [`history`] | a stream's events, paged forward or backward | `events_stream_version_key` |
//! | [`chain`] | every event of one correlation id, as a tree by causation | `events_correlation_idx` |
//! | [`range`] | events by actor / by type in a time range | `events_actor_time_idx`, `events_type_time_idx` |
//! | [`counts`] | counts per type or category per time bucket | `events_time_idx` (index only) |
//! | [`state`] | an aggregate's state at a version or a time | `events_stream_version_key` |
//! | [`subject`] | every event about one customer | the three above, OR-ed |
//!
//! Invariants:
//! - Every read runs in a `READ ONLY`, `REPEATABLE READ` transaction as the `commerce_audit`
//!   role ([`begin`]), which may `SELECT` the `events` table and nothing else: PostgreSQL itself
//!   refuses any write or any other table on this path, whatever the SQL says.
//! - Every page is bounded ([`page_size`]: at most [`MAX_LIMIT`] events; the chain at most
//!   [`chain::MAX_CHAIN`]) and continues by a keyset cursor that an index returns in order, so a
//!   page costs the same on a log of any size.
//! - Events are decoded by the event store's own row decoding ([`event_store::decode_event_row`]).

use chrono::{DateTime, Utc};
use event_store::{RecordedEvent, StoreError};
use sqlx::{Executor, PgConnection, PgPool, Postgres, Transaction, postgres::PgRow};

pub mod chain;
pub mod counts;
pub mod history;
pub mod range;
pub mod state;
pub mod subject;

/// The database role audit reads run as (`migrations/20261207000002_audit.sql`).
pub const AUDIT_ROLE: &str = "commerce_audit";
/// Page size when a request asks for none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 500;

/// Why an audit query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The request is malformed (an id, time, bucket, cursor or limit). Client: fix it.
    #[error("{0}")]
    InvalidArgument(String),
    /// Nothing in the log for this stream, correlation id or time. Client: check the id.
    #[error("{0}")]
    NotFound(String),
    /// The database failed, refused or is unreachable. Retry with backoff.
    #[error("event log: {0}")]
    Database(#[from] sqlx::Error),
    /// An event in the log does not decode (a stream id, or a payload the domain cannot read):
    /// a bug or foreign data. Not retryable.
    #[error("undecodable event: {0}")]
    Corrupt(String),
}

impl From<StoreError> for AuditError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(error) => Self::Database(error),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

/// Opens the audit read path on `pool`: a `READ ONLY` transaction with one snapshot for all its
/// statements, as [`AUDIT_ROLE`]. Dropping it rolls back (there is nothing to commit).
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, AuditError> {
    let mut tx = pool.begin().await?;
    // Two statements, one round trip (the simple query protocol).
    let conn: &mut PgConnection = &mut tx;
    conn.execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
         SET LOCAL ROLE commerce_audit",
    )
    .await?;
    Ok(tx)
}

/// `limit` as a page size: 0 means [`DEFAULT_LIMIT`], more than [`MAX_LIMIT`] is refused.
pub fn page_size(limit: u32) -> Result<u32, AuditError> {
    match limit {
        0 => Ok(DEFAULT_LIMIT),
        1..=MAX_LIMIT => Ok(limit),
        _ => Err(AuditError::InvalidArgument(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        ))),
    }
}

/// An RFC 3339 time of a request (`what` names the field in the error).
pub fn parse_time(what: &str, value: &str) -> Result<DateTime<Utc>, AuditError> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            AuditError::InvalidArgument(format!("{what} must be an RFC 3339 time, got {value:?}"))
        })
}

/// A half-open time range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive.
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
}

impl TimeRange {
    /// The range of two RFC 3339 strings; both are required and `from` may not be after `to`.
    pub fn parse(from: &str, to: &str) -> Result<Self, AuditError> {
        if from.is_empty() || to.is_empty() {
            return Err(AuditError::InvalidArgument(
                "from and to are both required".into(),
            ));
        }
        let range = Self {
            from: parse_time("from", from)?,
            to: parse_time("to", to)?,
        };
        if range.from > range.to {
            return Err(AuditError::InvalidArgument(format!(
                "from ({from}) is after to ({to})"
            )));
        }
        Ok(range)
    }
}

/// A page of events and the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    /// In the order the query defines.
    pub events: Vec<RecordedEvent>,
    /// Pass it back to get the next page.
    pub next_cursor: Option<String>,
}

/// Decodes rows selected with [`event_store::EVENT_COLUMNS`].
fn decode_all(rows: &[PgRow]) -> Result<Vec<RecordedEvent>, AuditError> {
    rows.iter()
        .map(|row| event_store::decode_event_row(row).map_err(AuditError::from))
        .collect()
}

/// `rows` fetched with a limit of `limit + 1`: the first `limit` and whether there were more.
fn split_page(mut events: Vec<RecordedEvent>, limit: u32) -> (Vec<RecordedEvent>, bool) {
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    (events, more)
}

fn malformed_cursor(cursor: &str) -> AuditError {
    AuditError::InvalidArgument(format!("malformed cursor {cursor:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_to_a_hundred_and_stop_at_five_hundred() {
        assert_eq!(page_size(0).unwrap(), 100);
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(500).unwrap(), 500);
        assert!(matches!(
            page_size(501),
            Err(AuditError::InvalidArgument(_))
        ));
    }

    #[test]
    fn time_ranges_need_both_ends_in_order() {
        let range = TimeRange::parse("2026-12-07T10:00:00+01:00", "2026-12-07T10:00:00Z").unwrap();
        assert_eq!(range.from.to_rfc3339(), "2026-12-07T09:00:00+00:00");
        assert!(TimeRange::parse("", "2026-12-07T10:00:00Z").is_err());
        assert!(TimeRange::parse("yesterday", "2026-12-07T10:00:00Z").is_err());
        assert!(TimeRange::parse("2026-12-08T00:00:00Z", "2026-12-07T00:00:00Z").is_err());
    }
}
