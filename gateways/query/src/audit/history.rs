//! A stream's history: its events paged by version, forward (oldest first) or backward (newest
//! first), over the `(stream_id, stream_version)` unique index. The cursor names the next
//! version and the direction it was made for (`f<version>` / `b<version>`), so a forward
//! cursor is not taken for a backward one.

use event_store::{Direction, EVENT_COLUMNS, StreamId};
use sqlx::PgConnection;

use super::{AuditError, decode_all, malformed_cursor, split_page};

/// A page of a stream's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryPage {
    /// In version order of the direction.
    pub events: Vec<event_store::RecordedEvent>,
    /// Pass it back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// The version of the stream's last event.
    pub current_version: u64,
}

/// What to read: where the first page starts, or the cursor of a later page.
#[derive(Debug, Clone, Copy)]
pub struct HistoryRequest<'a> {
    /// Which way to page.
    pub direction: Direction,
    /// The first page's first version (inclusive); forward default 0, backward default the
    /// stream's last version. Ignored with a cursor.
    pub from_version: Option<u64>,
    /// The `next_cursor` of the previous page; empty for the first page.
    pub cursor: &'a str,
    /// The page size (already checked with [`super::page_size`]).
    pub limit: u32,
}

/// One page of `stream`'s history. An unknown stream (no events) is [`AuditError::NotFound`].
pub async fn stream_history(
    conn: &mut PgConnection,
    stream: &StreamId,
    request: HistoryRequest<'_>,
) -> Result<HistoryPage, AuditError> {
    let from = match request.cursor {
        "" => request.from_version,
        cursor => Some(parse_cursor(cursor, request.direction)?),
    };
    let current: Option<i64> =
        sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = $1")
            .bind(stream.as_str())
            .fetch_one(&mut *conn)
            .await?;
    let current = current.ok_or_else(|| AuditError::NotFound(format!("{stream} not found")))?;
    let sql = sql(request.direction);
    let from = match (request.direction, from) {
        (_, Some(from)) => i64::try_from(from).unwrap_or(i64::MAX),
        (Direction::Forward, None) => 0,
        (Direction::Backward, None) => current,
    };
    let rows = sqlx::query(&sql)
        .bind(stream.as_str())
        .bind(from)
        .bind(i64::from(request.limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    let (events, more) = split_page(decode_all(&rows)?, request.limit);
    let next_cursor = match (more, events.last()) {
        (true, Some(last)) => Some(match request.direction {
            Direction::Forward => format!("f{}", last.version + 1),
            Direction::Backward => format!("b{}", last.version.saturating_sub(1)),
        }),
        _ => None,
    };
    Ok(HistoryPage {
        events,
        next_cursor,
        current_version: current as u64,
    })
}

/// The page statement going `direction`: `$1` the stream, `$2` the first version, `$3` the
/// page size (public for the plan tests).
pub fn sql(direction: Direction) -> String {
    match direction {
        Direction::Forward => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version LIMIT $3"
        ),
        Direction::Backward => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version <= $2 \
             ORDER BY stream_version DESC LIMIT $3"
        ),
    }
}

fn parse_cursor(cursor: &str, direction: Direction) -> Result<u64, AuditError> {
    let prefix = match direction {
        Direction::Forward => 'f',
        Direction::Backward => 'b',
    };
    cursor
        .strip_prefix(prefix)
        .and_then(|version| version.parse().ok())
        .ok_or_else(|| malformed_cursor(cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_direction() {
        assert_eq!(parse_cursor("f12", Direction::Forward).unwrap(), 12);
        assert_eq!(parse_cursor("b0", Direction::Backward).unwrap(), 0);
        assert!(parse_cursor("b12", Direction::Forward).is_err());
        assert!(parse_cursor("12", Direction::Forward).is_err());
        assert!(parse_cursor("f-1", Direction::Forward).is_err());
    }
}
