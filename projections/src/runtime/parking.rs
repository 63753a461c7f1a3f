//! Parking, and the operator's way out: re-drive and skip. (The retries that lead to parking,
//! and the isolation of the event to park out of a failing batch, are in `handle.rs`.)
//!
//! **Invariants.**
//! - An event that keeps failing is tried `max_attempts` times, `retry_delay` apart, then parked
//!   (row in `parked_events`, with its error and attempts) and the queue moves on.
//! - A stream with a parked event is *stopped* for that projection: every later event of it is
//!   parked behind, unapplied, so parked events are re-driven in version order and none is
//!   overtaken (re-driving v5 after v6 was applied would otherwise be a silent no-op). Other
//!   streams keep flowing.
//! - A transient error ([`RuntimeError::is_transient`]: a dependency unreachable, or PostgreSQL
//!   out of resources, shut down, canceling, losing a serialization race or deadlock, read-only
//!   during a failover) parks nothing: it is retried like any failure, but after the last try the
//!   handler answers "retry later" and the queue waits, so an outage does not stop every stream.
//!   Likewise when parking itself fails. The wait stays bounded per message (`max_attempts`
//!   tries, `retry_delay` apart), so a shutdown waits for at most one such round; the broker
//!   offers the message again after `retry_delay`, for as long as the fault lasts.
//! - Re-drive applies a stream's parked events in version order through the same
//!   [`ProjectionRuntime::apply`] and deletes each row after it applied; a failure stops it and
//!   records the error on that row.
//! - Skip drops one parked row, named by its id, and only the *oldest* parked row of its stream
//!   (the one a re-drive would try next: a row without a version first, then by version), so
//!   skipping never lets a later version overtake an earlier parked one. A row with a version
//!   moves the stream's marker past it; a row without one (a message that neither decoded nor
//!   said its version) moves no marker: if it stood for an event of the log, that event is
//!   filled in from the log as a gap when the next event of the stream is applied. Either way
//!   the stream stays stopped while other rows of it remain parked.
use chrono::{DateTime, Utc};
use event_store::{Direction, RecordedEvent, StreamId};
use redis::Script;
use rocketmq::{ReceivedMessage, property};
use sqlx::Row;
use sqlx::postgres::PgRow;
use tracing::instrument;
use uuid::Uuid;

use super::apply::raise_markers;
use super::generations::{live_pg_generation, redis_keys};
use super::lease;
use super::{Handled, ProjectionRuntime, RuntimeError};
use crate::Projection;

/// One row of `parked_events`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParkedEvent {
    /// The row's id: how an operator names it (`parked skip --id`).
    pub id: i64,
    /// The projection that could not apply it.
    pub projection: String,
    /// Its stream (`unknown` for a message that did not decode and did not say it).
    pub stream_id: String,
    /// `None` only for a message that did not decode and did not say its version.
    pub version: Option<u64>,
    /// The event's id, when known.
    pub event_id: Option<Uuid>,
    /// Its position in the log, when known.
    pub position: Option<u64>,
    /// Why it was parked, or why its last re-drive failed.
    pub error: String,
    /// Tries before it was parked (0: parked behind an earlier event), plus failed re-drives.
    pub attempts: i32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
    /// The event as JSON (see the migration for undecodable messages).
    pub event: serde_json::Value,
}

/// What a re-drive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RedriveReport {
    /// Parked events applied (or found to be duplicates) and removed.
    pub applied: usize,
}

/// Raises the Redis marker of a stream to at least `ARGV[2]`.
const RAISE_MARKER: &str = r"
local marker = redis.call('HGET', KEYS[1], ARGV[1])
if (not marker) or tonumber(marker) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
";

pub(super) const BEHIND: &str = "stream stopped: an earlier event of this stream is parked";

impl ProjectionRuntime {
    /// Parks a message that is not an event, under the stream and version its properties name
    /// (if they do), so that stream stops behind it.
    pub(super) async fn park_undecodable(
        &self,
        projection: &str,
        message: &ReceivedMessage,
        error: &dyn std::fmt::Display,
    ) -> Handled {
        tracing::warn!(%error, "parking a message that is not an event");
        let prop = |name: &str| message.properties.get(name).cloned();
        let stream = prop(property::STREAM_ID).unwrap_or_else(|| "unknown".to_owned());
        let version = prop(property::VERSION).and_then(|v| v.parse().ok());
        let position = prop(property::POSITION).and_then(|v| v.parse().ok());
        let body = serde_json::json!({
            "undecodable_body": String::from_utf8_lossy(&message.body),
            "msg_id": message.msg_id,
            "topic": message.topic,
        });
        let row = NewParked {
            stream: &stream,
            version,
            event_id: message.keys.first().and_then(|k| k.parse().ok()),
            position,
            event: body,
            error: error.to_string(),
            attempts: 1,
        };
        self.park_or_wait(projection, row).await
    }

    /// Parks `row`; [`Handled::RetryLater`] when even that fails (the queue then waits).
    pub(super) async fn park_or_wait(&self, projection: &str, row: NewParked<'_>) -> Handled {
        match self.park(projection, row).await {
            Ok(()) => {
                self.metrics.record_parked(projection);
                Handled::Parked
            }
            Err(error) => {
                tracing::error!(%error, "could not park; the queue waits");
                Handled::RetryLater
            }
        }
    }

    /// The streams among `streams` that are stopped for `projection` (a parked event each).
    pub(super) async fn stopped_streams(
        &self,
        projection: &str,
        streams: &[&str],
    ) -> Result<std::collections::HashSet<String>, RuntimeError> {
        let stopped: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT stream_id FROM parked_events \
             WHERE projection = $1 AND stream_id = ANY($2)",
        )
        .bind(projection)
        .bind(streams)
        .fetch_all(&self.pool)
        .await?;
        Ok(stopped.into_iter().collect())
    }

    /// Parks one event. Parking the same version again keeps the first row.
    pub(super) async fn park(
        &self,
        projection: &str,
        row: NewParked<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO parked_events \
             (projection, stream_id, version, event_id, position, event, error, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (projection, stream_id, version) DO NOTHING",
        )
        .bind(projection)
        .bind(row.stream)
        .bind(row.version.map(to_i64))
        .bind(row.event_id)
        .bind(row.position.map(to_i64))
        .bind(&row.event)
        .bind(&row.error)
        .bind(i32::try_from(row.attempts).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Parked events, of one projection when given: per stream in the order a re-drive takes
    /// them (a row without a version first, then by version).
    pub async fn parked(&self, projection: Option<&str>) -> Result<Vec<ParkedEvent>, RuntimeError> {
        let rows = sqlx::query(&format!(
            "SELECT {PARKED_COLUMNS} FROM parked_events \
             WHERE $1::text IS NULL OR projection = $1 \
             ORDER BY projection, stream_id, {STREAM_ORDER}"
        ))
        .bind(projection)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(parked_event)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Applies the parked events of `stream` in version order, deleting each after it applied,
    /// until none is left; stops at the first failure and records it on that row.
    #[instrument(skip_all, fields(projection = projection.name(), stream = stream))]
    pub async fn redrive(
        &self,
        projection: &Projection,
        stream: &str,
    ) -> Result<RedriveReport, RuntimeError> {
        let mut report = RedriveReport::default();
        loop {
            let parked = self.parked(Some(projection.name())).await?;
            let Some(next) = parked.into_iter().find(|row| row.stream_id == stream) else {
                return Ok(report);
            };
            let applied = match self.parked_event(&next).await {
                Ok(event) => self.apply(projection, &event).await,
                Err(error) => Err(error),
            };
            match applied {
                Ok(_) => {
                    sqlx::query("DELETE FROM parked_events WHERE id = $1")
                        .bind(next.id)
                        .execute(&self.pool)
                        .await?;
                    report.applied += 1;
                }
                Err(error) => {
                    sqlx::query(
                        "UPDATE parked_events SET error = $2, attempts = attempts + 1 \
                         WHERE id = $1",
                    )
                    .bind(next.id)
                    .bind(error.to_string())
                    .execute(&self.pool)
                    .await?;
                    return Err(RuntimeError::RedriveFailed {
                        stream: stream.to_owned(),
                        version: next.version,
                        error: error.to_string(),
                    });
                }
            }
        }
    }

    /// The event a parked row holds; for an undecodable message, the same version from the log.
    async fn parked_event(&self, row: &ParkedEvent) -> Result<RecordedEvent, RuntimeError> {
        if let Ok(event) = serde_json::from_value::<RecordedEvent>(row.event.clone()) {
            return Ok(event);
        }
        let (Some(version), Ok(stream)) = (row.version, StreamId::parse(row.stream_id.clone()))
        else {
            return Err(RuntimeError::RedriveFailed {
                stream: row.stream_id.clone(),
                version: row.version,
                error: format!(
                    "parked event #{} did not decode and names no stream version; skip it \
                     (parked skip --id {})",
                    row.id, row.id
                ),
            });
        };
        let events = self
            .store
            .read_stream(&stream, Direction::Forward, version, 1)
            .await?;
        events
            .into_iter()
            .next()
            .ok_or(RuntimeError::MissingFromLog {
                stream: row.stream_id.clone(),
                missing: version,
                version,
            })
    }

    /// Drops the parked row `id` of `projection` and returns it. An operator's decision.
    ///
    /// Only the oldest parked row of its stream may be skipped (module docs); any other fails
    /// [`RuntimeError::NotOldestParked`]. A row with a version sets the stream's marker to at
    /// least that version: every version up to it then counts as applied. A row without a
    /// version leaves the marker alone. The stream stays stopped while other rows of it remain
    /// parked: re-drive them.
    #[instrument(skip_all, fields(projection = projection.name(), id = id))]
    pub async fn skip(
        &self,
        projection: &Projection,
        id: i64,
    ) -> Result<ParkedEvent, RuntimeError> {
        let name = projection.name();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {PARKED_COLUMNS} FROM parked_events \
             WHERE id = $1 AND projection = $2 FOR UPDATE"
        ))
        .bind(id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(RuntimeError::NotParked {
                projection: name.to_owned(),
                id,
            });
        };
        let row = parked_event(&row)?;
        // Rows of the stream that were parked meanwhile sort after this one unless they lack a
        // version; then that one must be skipped first, which the operator is told.
        let oldest: i64 = sqlx::query_scalar(&format!(
            "SELECT id FROM parked_events WHERE projection = $1 AND stream_id = $2 \
             ORDER BY {STREAM_ORDER} LIMIT 1"
        ))
        .bind(name)
        .bind(&row.stream_id)
        .fetch_one(&mut *tx)
        .await?;
        if oldest != id {
            return Err(RuntimeError::NotOldestParked {
                id,
                stream: row.stream_id,
                oldest,
            });
        }
        sqlx::query("DELETE FROM parked_events WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        match (projection, row.version) {
            // Nothing to move past: the event, if it is in the log, is filled in as a gap.
            (_, None) => {}
            (Projection::Postgres(_), Some(version)) => {
                let generation = live_pg_generation(&mut tx, name).await?;
                raise_markers(
                    &mut tx,
                    name,
                    generation,
                    &[(row.stream_id.as_str(), version)],
                )
                .await?;
            }
            // Raised before the row goes: a crash in between leaves the row, and skipping
            // again is harmless.
            (Projection::Redis(model), Some(version)) => {
                lease::try_shared(&mut tx, name).await?;
                let (epoch, _) = self.live_epoch(model.as_ref()).await?;
                let keys = redis_keys(&self.redis_prefix, name, epoch.generation);
                let _: i64 = Script::new(RAISE_MARKER)
                    .key(keys.key("versions"))
                    .arg(&row.stream_id)
                    .arg(version.to_string())
                    .invoke_async(&mut self.redis())
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(row)
    }
}

/// The columns [`parked_event`] reads.
const PARKED_COLUMNS: &str =
    "id, projection, stream_id, version, event_id, position, error, attempts, parked_at, event";

/// The order of one stream's parked rows: the order re-drive applies them and skip requires.
/// A row without a version (its place in the stream unknown) comes first, so it is dealt with
/// before anything is applied past it.
const STREAM_ORDER: &str = "version NULLS FIRST, id";

fn parked_event(row: &PgRow) -> Result<ParkedEvent, sqlx::Error> {
    Ok(ParkedEvent {
        id: row.try_get("id")?,
        projection: row.try_get("projection")?,
        stream_id: row.try_get("stream_id")?,
        version: row.try_get::<Option<i64>, _>("version")?.map(|v| v as u64),
        event_id: row.try_get("event_id")?,
        position: row.try_get::<Option<i64>, _>("position")?.map(|v| v as u64),
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        parked_at: row.try_get("parked_at")?,
        event: row.try_get("event")?,
    })
}

/// A row about to be parked.
pub(super) struct NewParked<'a> {
    stream: &'a str,
    version: Option<u64>,
    event_id: Option<Uuid>,
    position: Option<u64>,
    event: serde_json::Value,
    error: String,
    attempts: u32,
}

impl<'a> NewParked<'a> {
    pub(super) fn of(event: &'a RecordedEvent, error: &str, attempts: u32) -> Self {
        Self {
            stream: event.stream_id.as_str(),
            version: Some(event.version),
            event_id: Some(event.event_id),
            position: Some(event.position),
            event: serde_json::to_value(event).unwrap_or_default(),
            error: error.to_owned(),
            attempts,
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
