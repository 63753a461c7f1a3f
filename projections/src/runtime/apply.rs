//! Applying a batch of events to one read model in one atomic write: the heart of the runtime.
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
//! applied exactly once, after all earlier versions.
//!
//! **Batches** (docs/projection-batches.md). A batch holds events of any streams, in any order,
//! repeats included. It is grouped by stream; each stream's events are taken in version order
//! under the rule above, and every change and marker raise of the batch commits together, or
//! none does. The batch's stream locks (PostgreSQL: transaction-scoped advisory locks, one per
//! projection and stream, taken in the order of the sorted stream ids, so two workers never
//! deadlock; Redis: the script runs alone) serialize it with any other applier of those streams
//! (another replica after a queue moved, an operator's re-drive). Markers are read with one
//! statement and raised with one multi-row statement. Which event of a failing batch is to blame
//! is not decided here: see `handle.rs`.
//!
//! **The model's lease and generations** (`lease.rs`, `generations.rs`): every live batch takes
//! the lease shared and only then resolves the live generation, so a switch (which takes the
//! lease exclusively) never interleaves with a batch, and a batch's writes and markers land in
//! one generation. A replay's batches write into the generation it builds (its own schema or
//! keys, its own markers) and take no lease: the replay lock keeps other builders out, and no
//! reader or consumer looks at a generation before it is switched in.
//!
//! **One connection per PostgreSQL apply.** Gaps are read from the log on the apply
//! transaction's own connection: an apply never waits for a second pooled connection while it
//! holds one, so no pool size can starve itself. A connection that saw a transient error is
//! closed, not returned to the pool, so the retry reconnects (after a failover the old one would
//! keep reaching the demoted primary).
//!
//! **Redis: absolute writes, and the epoch checked in the script.** Redis runs a script's writes
//! without rollback: a script that fails half way (out of memory, a wrong type) keeps the writes
//! it made, though not the markers, and the batch is applied again. That is safe only for writes
//! that leave the same state when run again ([`ABSOLUTE_WRITES`]); the script refuses a batch
//! holding any other command before it writes anything ([`RuntimeError::NotAbsoluteWrite`]). A
//! live batch also writes nothing when the model's epoch key is gone or names another
//! generation ([`RuntimeError::ReadModelLost`]): a Redis that lost its data must be rebuilt, not
//! topped up with the latest events.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use event_store::{RecordedEvent, StreamId};
use redis::Script;
use sqlx::Connection;
use tracing::instrument;

use super::generations::{Target, epoch_key, pg_schema, redis_keys};
use super::{ProjectionRuntime, RuntimeError, lease};
use crate::{PostgresProjection, Projection, RedisProjection};

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event (after `filled` earlier versions read from the log) changed the read model.
    Applied {
        /// Earlier versions of the stream read from the log and applied first.
        filled: usize,
    },
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
/// The error code the apply script answers a missing epoch with.
const LOST: &str = "LOST";

/// Checks and advances the markers of a batch of streams and runs their writes, atomically.
///
/// `KEYS[1]`: the generation's versions hash; `KEYS[2]`: the model's epoch key. `ARGV[1]`: the
/// epoch value the batch was computed for (error `LOST`, nothing written, when the epoch is
/// missing or different), empty for a generation being built (no check).
/// `ARGV[2]`: JSON `[[stream, [[version, [[command, key, args…], …]], …]], …]`, each stream's
/// versions consecutive and ascending (version as a decimal string, so it survives Lua's
/// doubles exactly).
///
/// First every write is checked against [`ABSOLUTE_WRITES`]: one that is not fails the script
/// with error `NOTABSOLUTE <command>` before anything is written. Then every stream's marker is
/// read: if any stream's first new version is not the one after its marker (a gap), nothing is
/// written and the answer is `{-1, i, next, …}` for each such stream (index from 0, next version
/// due). Otherwise every new version's writes run, each stream's marker is raised to its last
/// version, and the answer is `{1, next, …}`: per stream the version that was due before, so
/// versions from it on were applied. Writes name their keys in ARGV, not KEYS: fine on a single
/// Redis, not on a cluster.
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
local runs = cjson.decode(ARGV[2])
for _, run in ipairs(runs) do
  for _, entry in ipairs(run[2]) do
    for _, write in ipairs(entry[2]) do
      local command = refused(write)
      if command then return redis.error_reply('{REFUSED} ' .. command) end
    end
  end
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('{LOST} epoch missing or moved')
end
local nexts = {{}}
local gaps = {{}}
for i, run in ipairs(runs) do
  local marker = redis.call('HGET', KEYS[1], run[1])
  local next = 0
  if marker then next = tonumber(marker) + 1 end
  nexts[i] = next
  for _, entry in ipairs(run[2]) do
    local version = tonumber(entry[1])
    if version >= next then
      if version > next then
        table.insert(gaps, i - 1)
        table.insert(gaps, next)
      end
      break
    end
  end
end
if #gaps > 0 then return {{-1, unpack(gaps)}} end
for i, run in ipairs(runs) do
  local last = nil
  for _, entry in ipairs(run[2]) do
    if tonumber(entry[1]) >= nexts[i] then
      for _, write in ipairs(entry[2]) do
        redis.call(unpack(write))
      end
      last = entry[1]
    end
  end
  if last then redis.call('HSET', KEYS[1], run[1], last) end
end
return {{1, unpack(nexts)}}
",
        allowed = allowed.join(", "),
    ))
});

/// How often a Redis batch re-reads its gaps when markers moved meanwhile.
const MAX_GAP_ROUNDS: usize = 3;

/// One stream's part of a batch: its events by version, each new version once, with the input
/// position of each (`None` for a version read from the log to fill a gap).
struct Run<'a> {
    stream: &'a StreamId,
    events: Vec<(Option<usize>, Cow<'a, RecordedEvent>)>,
}

/// A batch grouped by stream, streams in sorted order (the lock order).
fn runs<'a>(events: &[&'a RecordedEvent]) -> Vec<Run<'a>> {
    let mut by_stream: BTreeMap<&'a str, Vec<usize>> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        by_stream
            .entry(event.stream_id.as_str())
            .or_default()
            .push(index);
    }
    by_stream
        .into_values()
        .map(|mut indices| {
            // Stable: of two copies of one version, the first in the batch is the one applied.
            indices.sort_by_key(|&index| events[index].version);
            indices.dedup_by_key(|index| events[*index].version);
            Run {
                stream: &events[indices[0]].stream_id,
                events: indices
                    .into_iter()
                    .map(|index| (Some(index), Cow::Borrowed(events[index])))
                    .collect(),
            }
        })
        .collect()
}

impl ProjectionRuntime {
    /// Applies `event` to `projection` effectively once (see the module docs), and records it in
    /// the metrics. No retries and no parking here: see [`ProjectionRuntime::handle`].
    pub async fn apply(
        &self,
        projection: &Projection,
        event: &RecordedEvent,
    ) -> Result<Applied, RuntimeError> {
        let applied = self.apply_batch(projection, &[event]).await?;
        Ok(applied[0])
    }

    /// Applies `events` (any streams, any order, repeats allowed) to `projection` in one atomic
    /// write (see the module docs); returns what happened to each, in input order. All or
    /// nothing: on an error nothing of the batch was applied.
    pub async fn apply_batch(
        &self,
        projection: &Projection,
        events: &[&RecordedEvent],
    ) -> Result<Vec<Applied>, RuntimeError> {
        self.apply_batch_with(projection, events, Target::Live)
            .await
    }

    #[instrument(skip_all, fields(projection = projection.name(), events = events.len()))]
    pub(super) async fn apply_batch_with(
        &self,
        projection: &Projection,
        events: &[&RecordedEvent],
        target: Target,
    ) -> Result<Vec<Applied>, RuntimeError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let runs = runs(events);
        let mut applied = vec![Applied::Duplicate; events.len()];
        match projection {
            Projection::Postgres(model) => {
                self.apply_postgres(model.as_ref(), runs, target, &mut applied)
                    .await?;
            }
            Projection::Redis(model) => {
                self.apply_redis(model.as_ref(), runs, target, &mut applied)
                    .await?;
            }
        }
        // A replay's progress has metrics of its own (`replay.rs`).
        if target == Target::Live {
            for (event, applied) in events.iter().zip(&applied) {
                self.metrics.record(projection.name(), event, *applied);
            }
        }
        Ok(applied)
    }

    async fn apply_postgres(
        &self,
        model: &dyn PostgresProjection,
        runs: Vec<Run<'_>>,
        target: Target,
        applied: &mut [Applied],
    ) -> Result<(), RuntimeError> {
        let mut conn = self.pool.acquire().await?;
        let result = apply_postgres_on(&mut conn, model, runs, target, applied).await;
        if result.as_ref().is_err_and(RuntimeError::is_database_fault) {
            // After a failover this connection may still reach the demoted primary (25006):
            // the retry must reconnect.
            conn.close_on_drop();
        }
        result
    }

    async fn apply_redis(
        &self,
        model: &dyn RedisProjection,
        mut runs: Vec<Run<'_>>,
        target: Target,
        applied: &mut [Applied],
    ) -> Result<(), RuntimeError> {
        let mut conn = self.pool.acquire().await?;
        let result = async {
            let mut tx = conn.begin().await?;
            let (keys, epoch) = match target {
                Target::Live => {
                    lease::try_shared(&mut tx, model.name()).await?;
                    // Under the lease: no switch until this transaction ends.
                    let epoch = self.live_epoch(model).await?;
                    let keys = redis_keys(&self.redis_prefix, model.name(), epoch.0.generation);
                    (keys, Some(epoch.1))
                }
                Target::Building(generation) => (
                    redis_keys(&self.redis_prefix, model.name(), generation),
                    None,
                ),
            };
            // Versions missing between two of the batch's own: from the log, before the script.
            for run in &mut runs {
                fill_inner_gaps(&mut tx, run).await?;
            }
            let done = self
                .run_redis_script(&mut tx, model, &keys, epoch.as_deref(), &mut runs)
                .await?;
            // Ends the transaction, and with it the shared lease, only after the script ran.
            tx.commit().await?;
            Ok::<_, RuntimeError>(done)
        }
        .await;
        if result.as_ref().is_err_and(RuntimeError::is_database_fault) {
            conn.close_on_drop();
        }
        record_runs(&runs, &result?, applied);
        Ok(())
    }

    /// Runs the apply script until no stream of the batch has a gap before it (reading gaps on
    /// `conn`); returns per run the version that was due before it.
    async fn run_redis_script(
        &self,
        conn: &mut sqlx::PgConnection,
        model: &dyn RedisProjection,
        keys: &crate::KeySpace,
        epoch: Option<&str>,
        runs: &mut [Run<'_>],
    ) -> Result<Vec<u64>, RuntimeError> {
        let mut redis = self.redis();
        for _ in 0..MAX_GAP_ROUNDS {
            let batch = runs
                .iter()
                .map(|run| {
                    let entries = run
                        .events
                        .iter()
                        .map(|(_, event)| redis_entry(model, keys, event))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(serde_json::json!([run.stream.as_str(), entries]))
                })
                .collect::<Result<Vec<_>, RuntimeError>>()?;
            let answer: Vec<i64> = APPLY_SCRIPT
                .key(keys.key("versions"))
                .key(epoch_key(&self.redis_prefix, model.name()))
                .arg(epoch.unwrap_or(""))
                .arg(serde_json::Value::Array(batch).to_string())
                .invoke_async(&mut redis)
                .await
                .map_err(|error| script_error(model.name(), error))?;
            let (status, rest) = answer.split_first().unwrap_or((&0, &[]));
            if *status == 1 {
                return Ok(rest.iter().map(|next| *next as u64).collect());
            }
            for pair in rest.chunks(2) {
                let (index, next) = (pair[0] as usize, pair[1] as u64);
                let run = &mut runs[index];
                let until = run
                    .events
                    .iter()
                    .map(|(_, event)| event.version)
                    .find(|version| *version >= next)
                    .unwrap_or(next);
                let gap = read_gap(conn, run.stream, next, until).await?;
                run.events.retain(|(input, _)| input.is_some());
                let mut filled: Vec<_> = gap.into_iter().map(|e| (None, Cow::Owned(e))).collect();
                filled.append(&mut run.events);
                run.events = filled;
                fill_inner_gaps(conn, run).await?;
            }
        }
        let run = &runs[0];
        Err(RuntimeError::MissingFromLog {
            stream: run.stream.to_string(),
            missing: run.events[0].1.version.saturating_sub(1),
            version: run.events[0].1.version,
        })
    }
}

/// Applies `runs` to `model` in one transaction on `conn`: the module's invariant.
async fn apply_postgres_on(
    conn: &mut sqlx::PgConnection,
    model: &dyn PostgresProjection,
    runs: Vec<Run<'_>>,
    target: Target,
    applied: &mut [Applied],
) -> Result<(), RuntimeError> {
    let name = model.name();
    let streams: Vec<&str> = runs.iter().map(|run| run.stream.as_str()).collect();
    let mut tx = conn.begin().await?;
    let generation = match target {
        Target::Live => {
            lease::try_shared(&mut tx, name).await?;
            // In the order of `streams` (sorted): rows of a function scan come in array order.
            // Locks the (projection, stream) pairs even before their marker rows exist. The live
            // generation is read in this statement, after the lease: no switch can come in
            // between.
            let (_, live, live_version): (i64, Option<i32>, Option<i32>) = sqlx::query_as(
                "SELECT count(pg_advisory_xact_lock(hashtextextended($1 || '/' || s, 0))), \
                   (SELECT generation FROM read_model_generations \
                     WHERE projection = $1 AND status = 'live'), \
                   (SELECT model_version FROM read_model_generations \
                     WHERE projection = $1 AND status = 'live') \
                 FROM unnest($2::text[]) AS s",
            )
            .bind(name)
            .bind(&streams)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(version) = live_version
                && version as u32 != model.version()
            {
                return Err(RuntimeError::OtherVersion {
                    projection: name.to_owned(),
                    live: version as u32,
                    code: model.version(),
                });
            }
            live.map_or(0, |live| live as u32)
        }
        Target::Building(generation) => {
            // The generation's own tables; the log and the markers stay in `public`. No stream
            // locks: its builder is its only writer (the replay lock), and a page of thousands
            // of streams would fill the server's lock table.
            sqlx::query("SELECT set_config('search_path', $1, true)")
                .bind(format!("\"{}\", public", pg_schema(name, generation)))
                .execute(&mut *tx)
                .await?;
            generation
        }
    };
    let markers: HashMap<String, i64> = sqlx::query_as(
        "SELECT stream_id, version FROM projection_versions \
         WHERE projection = $1 AND generation = $3 AND stream_id = ANY($2)",
    )
    .bind(name)
    .bind(&streams)
    .bind(generation as i32)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let mut raised: Vec<(&str, u64)> = Vec::new();
    // Every version to apply, each stream's in order: the batch's new ones and the gaps before.
    let mut todo: Vec<Cow<'_, RecordedEvent>> = Vec::new();
    for run in runs {
        let stream = run.stream.as_str();
        let mut next = markers.get(stream).map_or(0, |version| *version as u64 + 1);
        for (input, event) in run.events {
            if event.version < next {
                continue;
            }
            // On the transaction's own connection (module docs).
            let gap = read_gap(&mut tx, run.stream, next, event.version).await?;
            if let Some(input) = input {
                applied[input] = Applied::Applied { filled: gap.len() };
            }
            next = event.version + 1;
            todo.extend(gap.into_iter().map(Cow::Owned));
            todo.push(event);
        }
        if let Some(last) = next.checked_sub(1)
            && markers
                .get(stream)
                .is_none_or(|marker| (*marker as u64) < last)
        {
            raised.push((stream, last));
        }
    }
    let todo: Vec<&RecordedEvent> = todo.iter().map(AsRef::as_ref).collect();
    model.apply_all(&mut tx, &todo).await?;
    raise_markers(&mut tx, name, generation, &raised).await?;
    tx.commit().await?;
    Ok(())
}

/// Which input events of `runs` the script applied, given per run the version due before it.
fn record_runs(runs: &[Run<'_>], nexts: &[u64], applied: &mut [Applied]) {
    for (run, next) in runs.iter().zip(nexts) {
        let mut filled = 0;
        for (input, event) in &run.events {
            if event.version < *next {
                continue;
            }
            match input {
                None => filled += 1,
                Some(input) => {
                    applied[*input] = Applied::Applied { filled };
                    filled = 0;
                }
            }
        }
    }
}

/// Fills, from the log on `conn`, the versions missing between two consecutive events of `run`.
async fn fill_inner_gaps(
    conn: &mut sqlx::PgConnection,
    run: &mut Run<'_>,
) -> Result<(), RuntimeError> {
    let missing = run
        .events
        .windows(2)
        .any(|pair| pair[1].1.version > pair[0].1.version + 1);
    if !missing {
        return Ok(());
    }
    let first = run.events[0].1.version;
    let last = run.events[run.events.len() - 1].1.version;
    let mut whole = read_gap(conn, run.stream, first, last + 1)
        .await?
        .into_iter();
    let mut events = std::mem::take(&mut run.events).into_iter().peekable();
    for from_log in whole.by_ref() {
        match events.peek() {
            Some((_, event)) if event.version == from_log.version => {
                run.events.extend(events.next());
            }
            _ => run.events.push((None, Cow::Owned(from_log))),
        }
    }
    Ok(())
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
    tracing::debug!(%stream, from, until, "filling a gap from the log");
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

/// The script's refusals as typed errors; any other error as is.
fn script_error(projection: &str, error: redis::RedisError) -> RuntimeError {
    match error.code() {
        Some(REFUSED) => RuntimeError::NotAbsoluteWrite {
            projection: projection.to_owned(),
            command: error.detail().unwrap_or_default().to_owned(),
        },
        Some(LOST) => RuntimeError::ReadModelLost {
            projection: projection.to_owned(),
        },
        _ => error.into(),
    }
}

/// Raises the markers of (`projection`, `generation`, stream) to the given versions with one
/// statement,
/// never lowering one.
pub(super) async fn raise_markers(
    conn: &mut sqlx::PgConnection,
    projection: &str,
    generation: u32,
    markers: &[(&str, u64)],
) -> Result<(), sqlx::Error> {
    if markers.is_empty() {
        return Ok(());
    }
    let (streams, versions): (Vec<&str>, Vec<i64>) = markers
        .iter()
        .map(|(stream, version)| (*stream, i64::try_from(*version).unwrap_or(i64::MAX)))
        .unzip();
    sqlx::query(
        "INSERT INTO projection_versions (projection, generation, stream_id, version) \
         SELECT $1, $4, s, v FROM unnest($2::text[], $3::int8[]) AS t(s, v) \
         ON CONFLICT (projection, generation, stream_id) \
         DO UPDATE SET version = GREATEST(projection_versions.version, excluded.version)",
    )
    .bind(projection)
    .bind(&streams)
    .bind(&versions)
    .bind(generation as i32)
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
