//! Applying one event to one read model: the heart of the runtime.
//!
//! **Invariant (effectively once, in stream order).** For every projection P and stream S the
//! runtime keeps a marker M = the last version of S applied to P, written in the same atomic
//! write as the read model's change (PostgreSQL: one transaction; Redis: one Lua script). For an
//! event of S at version V:
//!
//! - V ≤ M: a redelivery or a replay: nothing changes ([`Applied::Duplicate`]);
//! - V = M + 1 (V = 0 without a marker): the read model applies it and M becomes V;
//! - V > M + 1: a gap (a lost message, or one not seen yet): versions M+1..V-1 are read from the
//!   log and applied first, in order, in the same atomic write, then V.
//!
//! So whatever order, duplication or loss the transport causes, each version of a stream is
//! applied exactly once, after all earlier versions. Concurrent appliers of one stream (a live
//! consumer and an operator's re-drive) serialize on a transaction-scoped advisory lock
//! (PostgreSQL) or on Redis' single-threaded script execution.
//!
//! **One connection per PostgreSQL apply.** The gap is read from the log on the apply
//! transaction's own connection: an apply never waits for a second pooled connection while it
//! holds one, so no pool size can starve itself. A connection that saw a transient error is
//! closed, not returned to the pool, so the retry reconnects (after a failover the old one would
//! keep reaching the demoted primary).
//!
//! **Absolute Redis writes only.** Redis runs a script's writes without rollback: a script that
//! fails half way (out of memory, a wrong type) keeps the writes it made, though not the marker of
//! the version it was applying, and the version is applied again. That is safe only for writes that
//! leave the same state when run again ([`ABSOLUTE_WRITES`]); the script refuses a batch holding
//! any other command before it writes anything of it ([`RuntimeError::NotAbsoluteWrite`]).

use std::sync::LazyLock;

use event_store::{RecordedEvent, StreamId};
use redis::Script;
use sqlx::Connection;
use tracing::instrument;

use super::{ProjectionRuntime, RuntimeError};
use crate::{PostgresProjection, Projection, RedisProjection};

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event (after `filled` earlier versions read from the log) changed the read model.
    Applied { filled: usize },
    /// The stream's marker was already at or past the event: nothing changed.
    Duplicate,
}

/// The Redis commands a read model may write with ([`crate::RedisWrite`]): absolute writes,
/// each leaving the same state when run again. `SET` only as `SET key value` (an expiry would
/// make the state depend on the clock); `ZADD` without `INCR`. Anything relative (`INCR`,
/// `HINCRBY`, `RPUSH`, `APPEND`…) or time-dependent (`EXPIRE`) is refused.
pub const ABSOLUTE_WRITES: &[&str] = &[
    "SET", "DEL", "HSET", "HSETNX", "HDEL", "SADD", "SREM", "ZADD", "ZREM",
];

/// The error code the apply script answers a refused write with.
const REFUSED: &str = "NOTABSOLUTE";

/// Checks and advances the marker and runs a batch of consecutive versions' writes, atomically.
///
/// `KEYS[1]`: the projection's versions hash; `ARGV[1]`: the stream id; `ARGV[2]`: JSON
/// `[[version, [[command, key, args…], …]], …]`, consecutive versions in order (version as a
/// decimal string, so it survives Lua's doubles exactly). First every write of the batch is
/// checked against [`ABSOLUTE_WRITES`]: one that is not fails the script with error
/// `NOTABSOLUTE <command>` before anything is written. Returns `{n, next}`: `n` entries applied
/// (0: all were duplicates), or `n = -1` when the first new version is not `next` (a gap;
/// nothing written). Writes name their keys in ARGV, not KEYS: fine on a single Redis, not on a
/// cluster.
static APPLY_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    let allowed: Vec<String> = ABSOLUTE_WRITES
        .iter()
        .map(|command| format!("{command} = true"))
        .collect();
    Script::new(&format!(
        r"
local allowed = {{ {allowed} }}
local function refused(write)
  local command = string.upper(tostring(write[1]))
  if not allowed[command] then return command end
  if command == 'SET' and #write ~= 3 then return 'SET with options' end
  if command == 'ZADD' then
    for i = 3, #write do
      if tonumber(write[i]) then break end
      if string.upper(tostring(write[i])) == 'INCR' then return 'ZADD INCR' end
    end
  end
  return nil
end
local batch = cjson.decode(ARGV[2])
for _, entry in ipairs(batch) do
  for _, write in ipairs(entry[2]) do
    local command = refused(write)
    if command then return redis.error_reply('{REFUSED} ' .. command) end
  end
end
local marker = redis.call('HGET', KEYS[1], ARGV[1])
local next = 0
if marker then next = tonumber(marker) + 1 end
local applied = 0
for _, entry in ipairs(batch) do
  local version = tonumber(entry[1])
  if version >= next then
    if version > next then
      if applied == 0 then return {{-1, next}} end
      return redis.error_reply('non-consecutive batch at version ' .. entry[1])
    end
    for _, write in ipairs(entry[2]) do
      redis.call(unpack(write))
    end
    redis.call('HSET', KEYS[1], ARGV[1], entry[1])
    next = version + 1
    applied = applied + 1
  end
end
return {{applied, next}}
",
        allowed = allowed.join(", "),
    ))
});

/// How often a Redis apply re-reads the gap when the marker moved meanwhile.
const MAX_GAP_ROUNDS: usize = 3;

impl ProjectionRuntime {
    /// Applies `event` to `projection` effectively once (see the module docs), and records it in
    /// the metrics. No retries and no parking here: see [`ProjectionRuntime::handle`].
    #[instrument(skip_all, fields(projection = projection.name(), stream = %event.stream_id, version = event.version))]
    pub async fn apply(
        &self,
        projection: &Projection,
        event: &RecordedEvent,
    ) -> Result<Applied, RuntimeError> {
        let applied = match projection {
            Projection::Postgres(model) => self.apply_postgres(model.as_ref(), event).await?,
            Projection::Redis(model) => self.apply_redis(model.as_ref(), event).await?,
        };
        self.metrics.record(projection.name(), event, applied);
        Ok(applied)
    }

    async fn apply_postgres(
        &self,
        model: &dyn PostgresProjection,
        event: &RecordedEvent,
    ) -> Result<Applied, RuntimeError> {
        let mut conn = self.pool.acquire().await?;
        let applied = apply_postgres_on(&mut conn, model, event).await;
        if applied.as_ref().is_err_and(RuntimeError::is_transient) {
            // After a failover this connection may still reach the demoted primary (25006):
            // the retry must reconnect.
            conn.close_on_drop();
        }
        applied
    }

    async fn apply_redis(
        &self,
        model: &dyn RedisProjection,
        event: &RecordedEvent,
    ) -> Result<Applied, RuntimeError> {
        let keys = self.key_space(model.name());
        let versions = keys.key("versions");
        let mut redis = self.redis();
        let mut batch = vec![redis_entry(model, &keys, event)?];
        let mut filled = 0;
        for _ in 0..MAX_GAP_ROUNDS {
            let (applied, next): (i64, u64) = APPLY_SCRIPT
                .key(&versions)
                .arg(event.stream_id.as_str())
                .arg(serde_json::Value::Array(batch.clone()).to_string())
                .invoke_async(&mut redis)
                .await
                .map_err(|error| refused(model.name(), error))?;
            if applied >= 0 {
                return Ok(if applied == 0 {
                    Applied::Duplicate
                } else {
                    Applied::Applied { filled }
                });
            }
            // Reads on a connection of its own: this apply holds no other.
            let mut conn = self.store.pool().acquire().await?;
            let gap = read_gap(&mut conn, &event.stream_id, next, event.version).await?;
            drop(conn);
            filled = gap.len();
            batch = gap
                .iter()
                .chain(std::iter::once(event))
                .map(|each| redis_entry(model, &keys, each))
                .collect::<Result<_, _>>()?;
        }
        Err(RuntimeError::MissingFromLog {
            stream: event.stream_id.to_string(),
            missing: event.version.saturating_sub(1),
            version: event.version,
        })
    }
}

/// Applies `event` (after the gap before it) to `model` in one transaction on `conn`: the
/// module's invariant.
async fn apply_postgres_on(
    conn: &mut sqlx::PgConnection,
    model: &dyn PostgresProjection,
    event: &RecordedEvent,
) -> Result<Applied, RuntimeError> {
    let name = model.name();
    let stream = event.stream_id.as_str();
    let mut tx = conn.begin().await?;
    // Locks the (projection, stream) pair even before its marker row exists.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
        .bind(name)
        .bind(stream)
        .execute(&mut *tx)
        .await?;
    let marker: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM projection_versions WHERE projection = $1 AND stream_id = $2",
    )
    .bind(name)
    .bind(stream)
    .fetch_optional(&mut *tx)
    .await?;
    let next = marker.map_or(0, |version| version as u64 + 1);
    if event.version < next {
        return Ok(Applied::Duplicate);
    }
    // On the transaction's own connection (module docs).
    let gap = read_gap(&mut tx, &event.stream_id, next, event.version).await?;
    for earlier in &gap {
        model.apply(&mut tx, earlier).await?;
    }
    model.apply(&mut tx, event).await?;
    set_marker(&mut tx, name, stream, event.version).await?;
    tx.commit().await?;
    Ok(Applied::Applied { filled: gap.len() })
}

/// Versions `from..until` of `stream`, read from the log on `conn`; all of them or an error.
async fn read_gap(
    conn: &mut sqlx::PgConnection,
    stream: &StreamId,
    from: u64,
    until: u64,
) -> Result<Vec<RecordedEvent>, RuntimeError> {
    if from >= until {
        return Ok(Vec::new());
    }
    tracing::debug!(from, until, "filling a gap from the log");
    let events = event_store::read_stream_range(conn, stream, from..until).await?;
    let complete = events.len() as u64 == until - from
        && events
            .iter()
            .zip(from..)
            .all(|(each, expected)| each.version == expected);
    if complete {
        Ok(events)
    } else {
        let missing = (from..until)
            .find(|version| !events.iter().any(|each| each.version == *version))
            .unwrap_or(from);
        Err(RuntimeError::MissingFromLog {
            stream: stream.to_string(),
            missing,
            version: until,
        })
    }
}

/// The script's refusal of a write as [`RuntimeError::NotAbsoluteWrite`]; any other error as is.
fn refused(projection: &str, error: redis::RedisError) -> RuntimeError {
    if error.code() == Some(REFUSED) {
        RuntimeError::NotAbsoluteWrite {
            projection: projection.to_owned(),
            command: error.detail().unwrap_or_default().to_owned(),
        }
    } else {
        error.into()
    }
}

/// Sets the marker of (`projection`, `stream`) to `version`, never lowering it.
pub(super) async fn set_marker(
    conn: &mut sqlx::PgConnection,
    projection: &str,
    stream: &str,
    version: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_versions (projection, stream_id, version) VALUES ($1, $2, $3) \
         ON CONFLICT (projection, stream_id) \
         DO UPDATE SET version = GREATEST(projection_versions.version, excluded.version)",
    )
    .bind(projection)
    .bind(stream)
    .bind(i64::try_from(version).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

fn redis_entry(
    model: &dyn RedisProjection,
    keys: &crate::KeySpace,
    event: &RecordedEvent,
) -> Result<serde_json::Value, RuntimeError> {
    let writes: Vec<serde_json::Value> = model
        .writes(keys, event)?
        .into_iter()
        .map(|write| serde_json::Value::from(write.args))
        .collect();
    Ok(serde_json::json!([event.version.to_string(), writes]))
}
