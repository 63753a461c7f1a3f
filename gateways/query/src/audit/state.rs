//! An aggregate's state at a version or a point in time: its stream's events up to there (over
//! the `(stream_id, stream_version)` index), decoded and folded by the domain's own pure
//! `evolve` (`aggregates`), and rendered as the state type's JSON.

use aggregates::{Aggregate, Cart, Checkout, Customer, DomainEvent, Order, Payment, Product};
use chrono::{DateTime, Utc};
use event_store::{EVENT_COLUMNS, RecordedEvent, StreamId};
use serde::Serialize;
use sqlx::PgConnection;

use super::{AuditError, decode_all};

/// Where to stop folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Every event: the current state.
    Latest,
    /// Up to and including this version.
    Version(u64),
    /// The events recorded at or before this time.
    Time(DateTime<Utc>),
}

/// A folded state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StateAt {
    /// The aggregate's stream.
    pub stream_id: String,
    /// Its category.
    pub category: String,
    /// The version of the last event folded.
    pub version: u64,
    /// When that event was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The state type serialized.
    pub state: serde_json::Value,
}

/// The folding function of a category's aggregate.
type Fold = fn(&[RecordedEvent]) -> Result<serde_json::Value, AuditError>;

/// The fold of `category`'s aggregate; [`AuditError::InvalidArgument`] for a category without
/// one.
fn fold_for(category: &str) -> Result<Fold, AuditError> {
    Ok(match category {
        Customer::CATEGORY => fold::<Customer>,
        Product::CATEGORY => fold::<Product>,
        Cart::CATEGORY => fold::<Cart>,
        Order::CATEGORY => fold::<Order>,
        Payment::CATEGORY => fold::<Payment>,
        Checkout::CATEGORY => fold::<Checkout>,
        other => {
            return Err(AuditError::InvalidArgument(format!(
                "no aggregate has category {other:?}"
            )));
        }
    })
}

/// Decodes `events` as `A`'s and folds them from the empty state.
fn fold<A>(events: &[RecordedEvent]) -> Result<serde_json::Value, AuditError>
where
    A: Aggregate,
    A::State: Serialize,
{
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        let domain = A::Event::from_stored(&event.event_type, event.schema_version, &event.data)
            .map_err(|error| {
                AuditError::Corrupt(format!(
                    "{} version {}: {error}",
                    event.stream_id, event.version
                ))
            })?;
        decoded.push(domain);
    }
    serde_json::to_value(A::fold(&decoded))
        .map_err(|error| AuditError::Corrupt(format!("state does not serialize: {error}")))
}

/// The statement: `$1` the stream, up to version `$2` and (unless NULL) time `$3` (public for
/// the plan tests).
pub fn sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version <= $2 \
         AND ($3::timestamptz IS NULL OR recorded_at <= $3) ORDER BY stream_version"
    )
}

/// `stream`'s state at `at`. [`AuditError::NotFound`] when the stream has no event by then.
pub async fn state_at(
    conn: &mut PgConnection,
    stream: &StreamId,
    at: At,
) -> Result<StateAt, AuditError> {
    let fold = fold_for(stream.category())?;
    // One statement for both bounds: `$2` caps the version, `$3` the time.
    let (until_version, until_time) = match at {
        At::Latest => (i64::MAX, None),
        At::Version(version) => (i64::try_from(version).unwrap_or(i64::MAX), None),
        At::Time(time) => (i64::MAX, Some(time)),
    };
    let sql = sql();
    let rows = sqlx::query(&sql)
        .bind(stream.as_str())
        .bind(until_version)
        .bind(until_time)
        .fetch_all(conn)
        .await?;
    let events = decode_all(&rows)?;
    let last = events.last().ok_or_else(|| {
        AuditError::NotFound(match at {
            At::Latest => format!("{stream} not found"),
            At::Version(version) => format!("{stream} has no event at version {version} or before"),
            At::Time(time) => format!("{stream} has no event at {} or before", time.to_rfc3339()),
        })
    })?;
    Ok(StateAt {
        stream_id: stream.to_string(),
        category: stream.category().to_owned(),
        version: last.version,
        recorded_at: last.recorded_at,
        state: fold(&events)?,
    })
}
