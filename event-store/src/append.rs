//! Appending to a stream: expected-version check, idempotent retries, one round trip.
//!
//! # Invariants
//! 1. **Expected version.** Events are written only if the stream's version at the moment of
//!    writing satisfies the expectation. The check and the insert are one SQL statement; two
//!    concurrent appenders that both pass the check collide on the unique key
//!    `(stream_id, stream_version)`, exactly one commits, and the loser re-runs the statement and
//!    now sees the winner's version (so `Exact`/`NoStream` conflict, `Any` lands after it).
//! 2. **Idempotency.** Every event id is unique in the log, forever. If a batch's ids are exactly
//!    the ids of one earlier append — the same stream, the same order, all of them — the append
//!    writes nothing and returns the result the original append returned, at any later time. An
//!    earlier append is recognised by its transaction id: one append is one transaction, so the
//!    events of a stream sharing a `tx_id` are exactly one batch. Anything else is rejected: some
//!    ids new and some written ([`StoreError::PartiallyWritten`]), ids written to another stream,
//!    in another order, spread over several appends, or a part of a larger append
//!    ([`StoreError::IdempotencyMismatch`]: a replay of a subset would answer with a stream
//!    version that no append ever returned), or ids written by a request with another command
//!    fingerprint ([`StoreError::FingerprintMismatch`], see `docs/command-fingerprints.md`).
//!    The first attempt does not look the ids up (the common case pays nothing for
//!    idempotency): a retried batch either collides on the event-id key or fails its expectation,
//!    and the full statement, which looks the ids up, then decides. A retry racing its own
//!    original collides on the event-id key the same way.
//! 3. **Nothing half-written.** A batch is one statement, hence one transaction: all or nothing.
//! 4. **Versions and positions.** A stream's versions are 0, 1, 2… without holes. Positions grow
//!    with versions within a stream. The appending transaction has no transaction id before the
//!    append statement takes its snapshot (it writes nothing else first), so its id is assigned
//!    after the stream's current version was read — which is what makes the `$all` order
//!    `(tx_id, position)` agree with every stream's version order.
//!
//! One round trip in the common case: no explicit `BEGIN`/`COMMIT` and no `NOTIFY` inside the
//! append (a `NOTIFY` at
//! commit serializes all notifying commits on the server); tailers are woken by a coalescing
//! notifier after the append returns (see `notify.rs`).

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use tracing::{debug, instrument};
use uuid::Uuid;

use crate::{
    CurrentVersion, EventStore, ExpectedVersion, NewEvent, StoreError, StreamId,
    error::is_unique_violation,
};

/// Most events one append accepts.
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// Attempts of the append statement when it loses a unique-key race. Only `Any` can lose more
/// than once in a row, and from the second attempt appenders queue on the stream's lock.
const MAX_ATTEMPTS: u32 = 32;

/// What an append wrote (or, for a retry, what the original append wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// Version of the last event of the batch: the stream's version right after the append.
    pub current_version: u64,
    /// Global position of each event, in batch order.
    pub positions: Vec<u64>,
}

impl AppendResult {
    /// Position of the batch's last event: a consistency token for read models.
    pub fn last_position(&self) -> u64 {
        *self
            .positions
            .last()
            .expect("an append writes at least one event")
    }
}

/// The part both append statements share: the stream's current version and the insert, guarded
/// by the expectation and by `$guard`, an extra condition (`true` for the fast statement).
macro_rules! append_sql {
    (with: $with:literal, guard: $guard:literal, select: $select:literal) => {
        concat!(
            "WITH ",
            $with,
            "current_version AS (
    SELECT max(stream_version) AS version FROM events WHERE stream_id = $1
), inserted AS (
    INSERT INTO events
        (stream_id, category, stream_version, event_id, event_type, schema_version, data, metadata)
    SELECT $1, $2, coalesce(c.version, -1) + e.ord, e.event_id, e.event_type, e.schema_version,
           e.data::jsonb, e.metadata::jsonb
    FROM current_version c
    CROSS JOIN unnest($3::uuid[], $4::text[], $5::int4[], $6::text[], $7::text[])
         WITH ORDINALITY AS e(event_id, event_type, schema_version, data, metadata, ord)
    WHERE ",
            $guard,
            "
      AND CASE $8::int4
            WHEN 0 THEN true
            WHEN 1 THEN c.version IS NULL
            WHEN 2 THEN c.version IS NOT NULL
            ELSE c.version IS NOT DISTINCT FROM $9::int8
          END
    ORDER BY e.ord
    RETURNING position, stream_version
)
SELECT
    (SELECT version FROM current_version) AS current_version,
    ARRAY(SELECT position FROM inserted ORDER BY stream_version) AS inserted",
            $select
        )
    };
}

/// The first attempt: check the expectation and insert, without looking the event ids up. A
/// retried batch cannot slip through: its ids collide on the event-id key (a unique violation),
/// or its expectation fails (nothing inserted); either way [`APPEND_SQL`] then decides.
const APPEND_FAST_SQL: &str = append_sql!(with: "", guard: "true", select: "");

/// Every later attempt: as the fast statement, plus the lookup of the batch's event ids that
/// tells a retry (all written: return the original result) from a conflict.
const APPEND_SQL: &str = append_sql!(
    with: "existing AS (
    SELECT event_id, stream_id, stream_version, position, tx_id,
           metadata ->> 'command_fingerprint' AS fingerprint
    FROM events
    WHERE event_id = ANY($3::uuid[])
), ",
    guard: "NOT EXISTS (SELECT 1 FROM existing)",
    select: ",
    ARRAY(SELECT event_id FROM existing) AS existing_ids,
    ARRAY(SELECT stream_id FROM existing) AS existing_streams,
    ARRAY(SELECT stream_version FROM existing) AS existing_versions,
    ARRAY(SELECT position FROM existing) AS existing_positions,
    (SELECT count(DISTINCT tx_id) FROM existing) AS original_appends,
    (SELECT count(*) FROM events o
     WHERE o.stream_id = $1 AND o.tx_id IN (SELECT tx_id FROM existing)) AS original_size,
    (SELECT fingerprint FROM existing LIMIT 1) AS original_fingerprint"
);

/// The batch, validated and laid out as the statement's array parameters.
struct Columns {
    ids: Vec<Uuid>,
    types: Vec<String>,
    schema_versions: Vec<i32>,
    data: Vec<String>,
    metadata: Vec<String>,
    /// The command fingerprint the batch carries (its first event's), if any.
    fingerprint: Option<String>,
}

impl EventStore {
    /// Appends `events` to `stream` if its version satisfies `expected`.
    ///
    /// Returns the stream's new version and each event's global position. Re-appending the same
    /// event ids returns the original result and writes nothing (see the module docs).
    #[instrument(skip_all, fields(stream = %stream, expected = %expected, count = events.len()))]
    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        let columns = self.validate(events)?;
        let (kind, exact) = match expected {
            ExpectedVersion::Any => (0, 0),
            ExpectedVersion::NoStream => (1, 0),
            ExpectedVersion::StreamExists => (2, 0),
            ExpectedVersion::Exact(v) => (3, i64::try_from(v).unwrap_or(i64::MAX)),
        };
        for attempt in 1..=MAX_ATTEMPTS {
            // The first attempt is one autocommit statement. Later attempts (after a lost race
            // or a failed expectation) take the stream's advisory lock first, so that retrying
            // appenders of one stream queue up instead of starving each other, and look the
            // event ids up to tell a retried append from a conflict.
            let outcome = if attempt == 1 {
                Self::append_statement(APPEND_FAST_SQL, stream, kind, exact, &columns)
                    .fetch_one(self.pool())
                    .await
            } else {
                self.append_locked(stream, kind, exact, &columns).await
            };
            let row = match outcome {
                Ok(row) => row,
                Err(err) if is_unique_violation(&err) => {
                    debug!(attempt, "append lost a race; re-running it");
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            let outcome = interpret(stream, expected, &columns, &row, attempt > 1)?;
            match outcome {
                Outcome::Written(result) => {
                    self.notifier().appended();
                    return Ok(result);
                }
                Outcome::Replayed(result) => return Ok(result),
                // The loop goes round: the next attempt runs the full statement.
                Outcome::Unsure => {}
            }
        }
        Err(StoreError::Contention {
            stream: stream.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    fn append_statement<'q>(
        sql: &'static str,
        stream: &'q StreamId,
        kind: i32,
        exact: i64,
        columns: &'q Columns,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(sql)
            .bind(stream.as_str())
            .bind(stream.category())
            .bind(&columns.ids)
            .bind(&columns.types)
            .bind(&columns.schema_versions)
            .bind(&columns.data)
            .bind(&columns.metadata)
            .bind(kind)
            .bind(exact)
    }

    /// The append statement inside a transaction holding the stream's advisory lock. The lock
    /// assigns no transaction id, and the append statement takes its snapshot after the lock is
    /// granted, so invariant 4 (transaction id assigned after reading the version) still holds.
    async fn append_locked(
        &self,
        stream: &StreamId,
        kind: i32,
        exact: i64,
        columns: &Columns,
    ) -> Result<sqlx::postgres::PgRow, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(stream.as_str())
            .execute(&mut *tx)
            .await?;
        let row = Self::append_statement(APPEND_SQL, stream, kind, exact, columns)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Checks the batch before anything reaches the database.
    fn validate(&self, events: &[NewEvent]) -> Result<Columns, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        if events.len() > MAX_BATCH_EVENTS {
            return Err(StoreError::BatchTooLarge {
                count: events.len(),
                limit: MAX_BATCH_EVENTS,
            });
        }
        let limit = self.max_event_bytes();
        let mut seen = HashSet::with_capacity(events.len());
        let mut columns = Columns {
            ids: Vec::with_capacity(events.len()),
            types: Vec::with_capacity(events.len()),
            schema_versions: Vec::with_capacity(events.len()),
            data: Vec::with_capacity(events.len()),
            metadata: Vec::with_capacity(events.len()),
            fingerprint: events[0].metadata.command_fingerprint.clone(),
        };
        for event in events {
            let id = event.event_id;
            let invalid = |reason| StoreError::InvalidEvent {
                event_id: id,
                reason,
            };
            if !seen.insert(id) {
                return Err(StoreError::DuplicateEventId(id));
            }
            if !event.data.is_object() {
                return Err(invalid("data must be a JSON object"));
            }
            if event.event_type.trim().is_empty() || event.event_type.len() > 128 {
                return Err(invalid("event type must be 1 to 128 bytes and not blank"));
            }
            if event.schema_version < 1 {
                return Err(invalid("schema version must be at least 1"));
            }
            let data = event.data.to_string();
            let metadata =
                serde_json::to_string(&event.metadata).expect("metadata always serializes");
            let size = data.len() + metadata.len();
            if size > limit {
                return Err(StoreError::EventTooLarge {
                    event_id: id,
                    size,
                    limit,
                });
            }
            // jsonb cannot hold U+0000; PostgreSQL would reject the whole statement.
            if data.contains("\\u0000") || metadata.contains("\\u0000") {
                return Err(invalid("JSON strings must not contain U+0000"));
            }
            columns.ids.push(id);
            columns.types.push(event.event_type.clone());
            columns.schema_versions.push(event.schema_version);
            columns.data.push(data);
            columns.metadata.push(metadata);
        }
        Ok(columns)
    }
}

/// What one attempt of the append statement found.
enum Outcome {
    /// The batch was written now.
    Written(AppendResult),
    /// The batch had been written before; this is the original result.
    Replayed(AppendResult),
    /// Nothing written and the ids were not looked up (first attempt): try the full statement.
    Unsure,
}

/// Turns the statement's row into the attempt's outcome. `looked_up` says whether the row
/// carries the lookup of the batch's event ids (the full statement).
fn interpret(
    stream: &StreamId,
    expected: ExpectedVersion,
    columns: &Columns,
    row: &sqlx::postgres::PgRow,
    looked_up: bool,
) -> Result<Outcome, StoreError> {
    let ids = &columns.ids;
    let current: Option<i64> = row.try_get("current_version")?;
    let inserted: Vec<i64> = row.try_get("inserted")?;
    if !inserted.is_empty() {
        return Ok(Outcome::Written(AppendResult {
            current_version: (current.unwrap_or(-1) + ids.len() as i64) as u64,
            positions: inserted.into_iter().map(|p| p as u64).collect(),
        }));
    }
    if !looked_up {
        return Ok(Outcome::Unsure);
    }
    let existing_ids: Vec<Uuid> = row.try_get("existing_ids")?;
    if existing_ids.is_empty() {
        return Err(StoreError::WrongExpectedVersion {
            stream: stream.to_string(),
            expected,
            actual: CurrentVersion::from_db(current),
        });
    }
    if existing_ids.len() < ids.len() {
        return Err(StoreError::PartiallyWritten {
            written: existing_ids.len(),
            total: ids.len(),
        });
    }
    // Exactly one earlier append, and all of it: a part of a batch is not a retry of it.
    let original_appends: i64 = row.try_get("original_appends")?;
    let original_size: i64 = row.try_get("original_size")?;
    if original_appends != 1 || original_size != ids.len() as i64 {
        return Err(StoreError::IdempotencyMismatch {
            stream: stream.to_string(),
        });
    }
    let original_fingerprint: Option<String> = row.try_get("original_fingerprint")?;
    if let (Some(original), Some(now)) = (&original_fingerprint, &columns.fingerprint)
        && original != now
    {
        return Err(StoreError::FingerprintMismatch {
            stream: stream.to_string(),
        });
    }
    let streams: Vec<String> = row.try_get("existing_streams")?;
    let versions: Vec<i64> = row.try_get("existing_versions")?;
    let positions: Vec<i64> = row.try_get("existing_positions")?;
    let written: HashMap<Uuid, (&str, i64, i64)> = existing_ids
        .iter()
        .zip(streams.iter().zip(versions.iter().zip(positions.iter())))
        .map(|(id, (s, (v, p)))| (*id, (s.as_str(), *v, *p)))
        .collect();
    Ok(Outcome::Replayed(replayed_result(stream, ids, &written)?))
}

/// The result of the original append of `ids`, provided they were written as one batch to
/// `stream`: consecutive versions in batch order.
fn replayed_result(
    stream: &StreamId,
    ids: &[Uuid],
    written: &HashMap<Uuid, (&str, i64, i64)>,
) -> Result<AppendResult, StoreError> {
    let mismatch = || StoreError::IdempotencyMismatch {
        stream: stream.to_string(),
    };
    let (_, first_version, _) = written[&ids[0]];
    let mut positions = Vec::with_capacity(ids.len());
    for (offset, id) in ids.iter().enumerate() {
        let (s, version, position) = written[id];
        if s != stream.as_str() || version != first_version + offset as i64 {
            return Err(mismatch());
        }
        positions.push(position as u64);
    }
    debug!("all event ids already written: returning the original result");
    Ok(AppendResult {
        current_version: (first_version + ids.len() as i64 - 1) as u64,
        positions,
    })
}
