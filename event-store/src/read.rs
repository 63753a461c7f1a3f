//! Reading the log: one stream (forward or backward, paged), one category, and `$all`.

use std::sync::LazyLock;

use sqlx::{Row, postgres::PgRow, types::Json};
use tracing::instrument;

use crate::{
    AllPosition, CurrentVersion, EventMetadata, EventStore, RecordedEvent, StoreError, StreamId,
};

/// Which way to page through a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first, from a version upwards.
    Forward,
    /// Newest first, from a version downwards.
    Backward,
}

/// A page of `$all`.
#[derive(Debug, Clone)]
pub struct AllSlice {
    /// The page's events, in `$all` order.
    pub events: Vec<RecordedEvent>,
    /// Where the next read continues: the last event's position, or `from` if there was none.
    pub next: AllPosition,
    /// The oldest transaction still running when the page was read: events of it and of later
    /// transactions were not eligible yet.
    pub watermark: u64,
    /// Whether committed events exist at or above the watermark: the read was held back by a
    /// transaction still running (usually an append about to commit; if it lasts, a problem).
    pub held_back: bool,
}

/// Where the last event appended by a command landed (see [`EventStore::find_command`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutedCommand {
    /// The stream the command appended to.
    pub stream_id: String,
    /// Version of the command's last event.
    pub version: u64,
    /// Global position of the command's last event.
    pub position: u64,
    /// The fingerprint of the request that ran it, if it recorded one
    /// (`docs/command-fingerprints.md`).
    pub fingerprint: Option<String>,
}

/// The last event appended by the command whose id is `$1`, via `events_command_id_idx`. The text
/// form of the id matches how `EventMetadata` serializes a UUID: hyphenated lowercase.
const FIND_COMMAND: &str = "SELECT stream_id, stream_version, position, \
                            metadata ->> 'command_fingerprint' AS fingerprint FROM events \
                            WHERE metadata ->> 'command_id' = $1 \
                            ORDER BY stream_version DESC LIMIT 1";

/// A stream's events from a version (`$2`, `$3`, page `$4`) and the lookup of command `$1`, in one
/// statement. The outer `ORDER BY` makes the order a property of the statement: a LATERAL
/// subquery's own `ORDER BY` orders only its rows, not the join's output.
static STREAM_FOR_COMMAND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH cmd AS ({FIND_COMMAND}) \
         SELECT c.stream_id AS cmd_stream, c.stream_version AS cmd_version, \
                c.position AS cmd_position, c.fingerprint AS cmd_fingerprint, e.* \
         FROM (SELECT 1) one \
         LEFT JOIN cmd c ON true \
         LEFT JOIN LATERAL ( \
            SELECT {COLUMNS} FROM events WHERE stream_id = $2 AND stream_version >= $3 \
            ORDER BY stream_version LIMIT $4 \
         ) e ON true \
         ORDER BY e.stream_version"
    )
});

/// Up to `$3` events of `$all` after `($1, $2)` below the watermark, ordered by the outer
/// `ORDER BY` (see [`STREAM_FOR_COMMAND_SQL`]).
static READ_ALL_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH w AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) \
         SELECT {COLUMNS}, w.xmin::text::int8 AS watermark, \
            EXISTS (SELECT 1 FROM events h WHERE h.tx_id >= w.xmin) AS held_back \
         FROM w LEFT JOIN LATERAL ( \
            SELECT * FROM events \
            WHERE (tx_id, position) > ($1::text::xid8, $2) AND tx_id < w.xmin \
            ORDER BY tx_id, position LIMIT $3 \
         ) e ON true \
         ORDER BY e.tx_id, e.position"
    )
});

/// Columns of every read, in the order [`decode`] expects.
pub(crate) const COLUMNS: &str = "position, tx_id::text::int8 AS tx_id, stream_id, stream_version, event_id, \
                       event_type, schema_version, data, metadata, recorded_at";

pub(crate) fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let stream: String = row.try_get("stream_id")?;
    // Metadata written by others may not fit our struct; an event is still readable then.
    let metadata = row
        .try_get::<Json<EventMetadata>, _>("metadata")
        .map(|m| m.0)
        .unwrap_or_default();
    Ok(RecordedEvent {
        position: row.try_get::<i64, _>("position")? as u64,
        tx_id: row.try_get::<i64, _>("tx_id")? as u64,
        stream_id: StreamId::parse(stream)?,
        version: row.try_get::<i64, _>("stream_version")? as u64,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        data: row.try_get("data")?,
        metadata,
        recorded_at: row.try_get("recorded_at")?,
    })
}

fn clamp(limit: usize) -> i64 {
    limit.clamp(1, 10_000) as i64
}

/// The events of `stream` with versions in `versions` (`from..until`), in version order, read on
/// `conn`: inside a transaction the caller already holds, so that no second pool connection is
/// needed while it is open (a caller holding one connection and waiting for another can exhaust a
/// small pool). Versions missing from the log are simply absent from the answer.
#[instrument(skip_all, fields(stream = %stream, from = versions.start, until = versions.end))]
pub async fn read_stream_range(
    conn: &mut sqlx::PgConnection,
    stream: &StreamId,
    versions: std::ops::Range<u64>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
         AND stream_version < $3 ORDER BY stream_version"
    ))
    .bind(stream.as_str())
    .bind(i64::try_from(versions.start).unwrap_or(i64::MAX))
    .bind(i64::try_from(versions.end).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

impl EventStore {
    /// The stream's current version (its last event's version), or `NoStream`.
    #[instrument(skip_all, fields(stream = %stream))]
    pub async fn stream_version(&self, stream: &StreamId) -> Result<CurrentVersion, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = $1")
                .bind(stream.as_str())
                .fetch_one(self.pool())
                .await?;
        Ok(CurrentVersion::from_db(version))
    }

    /// The last event appended by command `command_id` (recorded in `metadata.command_id`), if
    /// any: how a command service answers a retried command without deciding again. One probe of
    /// the `events_command_id_idx` index; the record commits atomically with the events.
    #[instrument(skip_all, fields(%command_id))]
    pub async fn find_command(
        &self,
        command_id: uuid::Uuid,
    ) -> Result<Option<ExecutedCommand>, StoreError> {
        let row: Option<(String, i64, i64, Option<String>)> = sqlx::query_as(FIND_COMMAND)
            .bind(command_id.hyphenated().to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(
            |(stream_id, version, position, fingerprint)| ExecutedCommand {
                stream_id,
                version: version as u64,
                position: position as u64,
                fingerprint,
            },
        ))
    }

    /// Up to `limit` (1..=10 000) events of `stream`, starting at version `from` inclusive, going
    /// `direction`. Backward from `u64::MAX` starts at the stream's end. An unknown stream is an
    /// empty page.
    #[instrument(skip_all, fields(stream = %stream, from, ?direction))]
    pub async fn read_stream(
        &self,
        stream: &StreamId,
        direction: Direction,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let sql = match direction {
            Direction::Forward => format!(
                "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
                 ORDER BY stream_version ASC LIMIT $3"
            ),
            Direction::Backward => format!(
                "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version <= $2 \
                 ORDER BY stream_version DESC LIMIT $3"
            ),
        };
        let rows = sqlx::query(&sql)
            .bind(stream.as_str())
            .bind(from)
            .bind(clamp(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Every event of `stream`, in version order.
    pub async fn read_stream_to_end(
        &self,
        stream: &StreamId,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_stream_from(stream, 0).await
    }

    /// Every event of `stream` from version `from` on, and where command `command_id` appended its
    /// last event (as [`EventStore::find_command`]), read in one statement — one snapshot, one
    /// round trip. What a command handler needs before deciding: an execution of the command that
    /// committed before the snapshot shows in both answers, a later one in neither.
    #[instrument(skip_all, fields(stream = %stream, from, %command_id))]
    pub async fn read_stream_for_command(
        &self,
        stream: &StreamId,
        from: u64,
        command_id: uuid::Uuid,
    ) -> Result<(Vec<RecordedEvent>, Option<ExecutedCommand>), StoreError> {
        const PAGE: usize = 1_000;
        let rows = sqlx::query(&STREAM_FOR_COMMAND_SQL)
            .bind(command_id.hyphenated().to_string())
            .bind(stream.as_str())
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(PAGE as i64)
            .fetch_all(self.pool())
            .await?;
        let command = match rows.first() {
            Some(row) => match row.try_get::<Option<String>, _>("cmd_stream")? {
                Some(stream_id) => Some(ExecutedCommand {
                    stream_id,
                    version: row.try_get::<i64, _>("cmd_version")? as u64,
                    position: row.try_get::<i64, _>("cmd_position")? as u64,
                    fingerprint: row.try_get("cmd_fingerprint")?,
                }),
                None => None,
            },
            None => None,
        };
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            // The LEFT JOIN yields one row of NULL event columns when there are no events.
            if row.try_get::<Option<i64>, _>("position")?.is_some() {
                events.push(decode(row)?);
            }
        }
        if events.len() == PAGE {
            // A long catch-up: read the rest, then look the command up again, after it. An
            // execution that committed before that lookup is found; one that committed later is
            // in neither answer — the same guarantee as the single statement.
            let rest = self.read_stream_from(stream, from + PAGE as u64).await?;
            events.extend(rest);
            let command = self.find_command(command_id).await?;
            return Ok((events, command));
        }
        Ok((events, command))
    }

    /// Every event of `stream` from version `from` on, in version order: how a cached fold of the
    /// stream catches up.
    pub async fn read_stream_from(
        &self,
        stream: &StreamId,
        from: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        const PAGE: usize = 1_000;
        let mut events = Vec::new();
        loop {
            let next = from + events.len() as u64;
            let page = self
                .read_stream(stream, Direction::Forward, next, PAGE)
                .await?;
            let done = page.len() < PAGE;
            events.extend(page);
            if done {
                return Ok(events);
            }
        }
    }

    /// Up to `limit` events of streams in `category`, with positions after `after`, in position
    /// order. For audit and replay of a category; not gap-safe against in-flight appends (use
    /// [`EventStore::read_all`] or a subscription to follow the log live).
    #[instrument(skip_all, fields(category, after))]
    pub async fn read_category(
        &self,
        category: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events WHERE category = $1 AND position > $2 \
             ORDER BY position LIMIT $3"
        ))
        .bind(category)
        .bind(after)
        .bind(clamp(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Up to `limit` events of `$all` strictly after `from`, in `(tx_id, position)` order,
    /// gap-safe: only events of transactions older than every transaction still running are
    /// returned, so no event can later appear before the returned ones (see the crate docs).
    #[instrument(skip_all, fields(from = %from))]
    pub async fn read_all(&self, from: AllPosition, limit: usize) -> Result<AllSlice, StoreError> {
        let rows = sqlx::query(&READ_ALL_SQL)
            .bind(from.tx_id.to_string())
            .bind(i64::try_from(from.position).unwrap_or(i64::MAX))
            .bind(clamp(limit))
            .fetch_all(self.pool())
            .await?;
        let (watermark, held_back) = match rows.first() {
            Some(row) => (
                row.try_get::<i64, _>("watermark")? as u64,
                row.try_get("held_back")?,
            ),
            None => (0, false),
        };
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            // The LEFT JOIN yields one all-NULL row when no event is eligible.
            if row.try_get::<Option<i64>, _>("position")?.is_some() {
                events.push(decode(row)?);
            }
        }
        let next = events.last().map_or(from, RecordedEvent::all_position);
        Ok(AllSlice {
            events,
            next,
            watermark,
            held_back,
        })
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use sqlx::{Postgres, postgres::PgArguments, query::Query};

    use super::*;
    use crate::testing::TestDatabase;

    /// The node at the root of the plan `EXPLAIN (FORMAT JSON)` answers for `explain`.
    async fn plan_root(db: &TestDatabase, explain: Query<'_, Postgres, PgArguments>) -> String {
        let plan: serde_json::Value = explain.fetch_one(&db.pool).await.unwrap().get(0);
        plan[0]["Plan"]["Node Type"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn both_joined_reads_order_their_rows_at_the_root_of_the_plan() {
        // Without an outer ORDER BY the rows come in whatever order the join yields: the plan's
        // root is the nested loop, and the order an accident of that plan.
        let db = TestDatabase::create(2).await;
        let all = format!("EXPLAIN (FORMAT JSON) {}", *READ_ALL_SQL);
        let all = sqlx::query(&all).bind("0").bind(0_i64).bind(10_i64);
        assert_eq!(plan_root(&db, all).await, "Sort", "read_all");
        let command = format!("EXPLAIN (FORMAT JSON) {}", *STREAM_FOR_COMMAND_SQL);
        let command = sqlx::query(&command)
            .bind(uuid::Uuid::nil().to_string())
            .bind("cart-1")
            .bind(0_i64)
            .bind(10_i64);
        assert_eq!(
            plan_root(&db, command).await,
            "Sort",
            "read_stream_for_command"
        );
    }
}
