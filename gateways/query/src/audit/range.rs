//! Events of one actor, or of one event type, in a time range, oldest first. Both page by the
//! key `(recorded_at, position)` — unique, since `position` is — that their index returns in
//! order (`events_actor_time_idx`, `events_type_time_idx`): a page is one bounded index range,
//! whatever the size of the log or of the range. The cursor is that key of the page's last
//! event (`<recorded_at in microseconds since the epoch>.<position>`).

use chrono::{DateTime, Utc};
use event_store::EVENT_COLUMNS;
use sqlx::PgConnection;

use super::{AuditError, Page, TimeRange, decode_all, malformed_cursor, split_page};

/// What to filter on.
#[derive(Debug, Clone, Copy)]
pub enum Filter<'a> {
    /// `metadata.actor`: a customer id, `admin:<name>` or a service's name.
    Actor(&'a str),
    /// `event_type`, e.g. `OrderPlaced`.
    EventType(&'a str),
}

/// A page of the events `filter` selects in `range`, after `cursor` (empty for the first page).
pub async fn events_in_range(
    conn: &mut PgConnection,
    filter: Filter<'_>,
    range: TimeRange,
    cursor: &str,
    limit: u32,
) -> Result<Page, AuditError> {
    let value = match filter {
        Filter::Actor(actor) => actor,
        Filter::EventType(event_type) => event_type,
    };
    if value.is_empty() {
        return Err(AuditError::InvalidArgument(match filter {
            Filter::Actor(_) => "actor is required".into(),
            Filter::EventType(_) => "event_type is required".into(),
        }));
    }
    // Positions start at 1: (from, 0) is before every event recorded at `from`.
    let (after_time, after_position) = match cursor {
        "" => (range.from, 0),
        cursor => parse_cursor(cursor)?,
    };
    let sql = sql(filter);
    let rows = sqlx::query(&sql)
        .bind(value)
        .bind(after_time)
        .bind(after_position)
        .bind(range.to)
        .bind(i64::from(limit) + 1)
        .fetch_all(conn)
        .await?;
    let (events, more) = split_page(decode_all(&rows)?, limit);
    let next_cursor = match (more, events.last()) {
        (true, Some(last)) => Some(format!(
            "{}.{}",
            last.recorded_at.timestamp_micros(),
            last.position
        )),
        _ => None,
    };
    Ok(Page {
        events,
        next_cursor,
    })
}

/// The page statement of `filter` (its value is `$1`; after `($2, $3)`, before `$4`, page `$5`;
/// public for the plan tests): the row comparison is the index range's start, so the scan
/// begins exactly after the previous page.
pub fn sql(filter: Filter<'_>) -> String {
    let column = match filter {
        Filter::Actor(_) => "metadata ->> 'actor'",
        Filter::EventType(_) => "event_type",
    };
    format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {column} = $1 \
         AND (recorded_at, position) > ($2, $3) AND recorded_at < $4 \
         ORDER BY recorded_at, position LIMIT $5"
    )
}

fn parse_cursor(cursor: &str) -> Result<(DateTime<Utc>, i64), AuditError> {
    let (micros, position) = cursor
        .split_once('.')
        .ok_or_else(|| malformed_cursor(cursor))?;
    let time = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| malformed_cursor(cursor))?;
    let position = position
        .parse::<i64>()
        .ok()
        .filter(|position| *position > 0)
        .ok_or_else(|| malformed_cursor(cursor))?;
    Ok((time, position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_a_time_in_microseconds_and_a_position() {
        let (time, position) = parse_cursor("1796630400123456.42").unwrap();
        assert_eq!(time.timestamp_micros(), 1_796_630_400_123_456);
        assert_eq!(position, 42);
        for bad in [
            "",
            "42",
            "x.1",
            "1.x",
            "1.0",
            "1.-3",
            "99999999999999999999.1",
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
