//! Verify: rebuilding a read model from the log into a scratch generation and comparing it with
//! the live one, difference by difference (docs/read-model-generations.md).
//!
//! **Invariants.**
//! - Read-only on the live generation: the scratch generation is built like a replay's (its own
//!   schema or keys, its own markers, the model's replay lock), never switched in, and dropped
//!   at the end, whatever the outcome.
//! - Both sides hold the same events: the live generation's consumers lag the log (the broker
//!   delivers a little later), so the rebuild takes, of each stream, the versions the live
//!   generation has applied plus every event older than a grace period
//!   ([`VERIFY_GRACE`]: an event that old must have been applied). The final top-up and both
//!   snapshots happen under the model's lease held exclusively, so no live batch applies
//!   meanwhile (consumers of the model wait for the comparison; readers do not). A live model
//!   more than the grace period behind, or one that lost writes, shows as differences.
//! - Rows are matched by primary key, keys by name; a difference names the table or key, the
//!   field, the live value and the rebuilt value. Markers are compared like rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use event_store::{RecordedEvent, StreamId};
use serde_json::Value;
use tracing::instrument;

use super::generations::{Purpose, Status, Target, redis_keys};
use super::lease::Exclusive;
use super::replay::{ProgressSink, ReplayLock, replay_error};
use super::{ProjectionRuntime, RuntimeError};
use crate::Projection;

/// Events younger than this may still be on their way to the live generation (relay, broker,
/// consumer): verify's rebuild leaves them out unless the live generation has them.
pub const VERIFY_GRACE: Duration = Duration::from_secs(10);

/// Which events a verify's rebuild takes: of each stream, the versions the live generation has
/// applied, and every event older than the grace period.
pub(super) struct LiveBound {
    generation: u32,
    grace: Duration,
}

impl LiveBound {
    /// Keeps the events of `events` the live generation has applied or must have by now.
    pub(super) async fn keep<'e>(
        &self,
        runtime: &ProjectionRuntime,
        projection: &Projection,
        events: Vec<&'e RecordedEvent>,
    ) -> Result<Vec<&'e RecordedEvent>, RuntimeError> {
        let mut streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
        streams.sort_unstable();
        streams.dedup();
        let markers = runtime
            .markers_of(projection, self.generation, Some(&streams))
            .await?;
        let old = chrono::Utc::now()
            - chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::zero());
        Ok(events
            .into_iter()
            .filter(|event| {
                event.recorded_at < old
                    || markers
                        .get(event.stream_id.as_str())
                        .is_some_and(|marker| event.version <= *marker)
            })
            .collect())
    }
}

/// One difference between the live generation and a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The table (PostgreSQL), `versions` for the markers, or the key (Redis, after the model's
    /// prefix).
    pub place: String,
    /// The row's primary key (`/`-joined), the stream of a marker, or empty for a Redis key.
    pub key: String,
    /// The column or hash field; `*` for a whole row or key present on one side only.
    pub field: String,
    /// The live value (`null` when absent), as JSON text.
    pub live: String,
    /// The rebuilt value (`null` when absent), as JSON text.
    pub rebuilt: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.key.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.key)
        };
        write!(
            f,
            "{}{key} {}: live {}, rebuilt {}",
            self.place, self.field, self.live, self.rebuilt
        )
    }
}

/// What a verify found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// The scratch generation it built (dropped since).
    pub generation: u32,
    /// Events of the model's categories it replayed.
    pub events: u64,
    /// Every difference; empty when the live model equals a rebuild.
    pub differences: Vec<Difference>,
}

impl ProjectionRuntime {
    /// Rebuilds `projection` into a scratch generation and compares it with the live one
    /// (module docs).
    #[instrument(skip_all, fields(projection = projection.name()))]
    pub async fn verify(
        &self,
        projection: &Projection,
        progress: Option<ProgressSink>,
    ) -> Result<VerifyReport, RuntimeError> {
        let name = projection.name();
        let _lock = ReplayLock::try_acquire(&self.pool, name).await?;
        let unfinished = self
            .generations(name)
            .await?
            .into_iter()
            .find(|g| g.status == Status::Building && g.purpose == Purpose::Replay);
        if let Some(unfinished) = unfinished {
            return Err(replay_error(
                name,
                &format!(
                    "generation {} is an unfinished replay: run the replay again to finish it \
                     before verifying",
                    unfinished.generation
                ),
            ));
        }
        let mut build = self.start_build(projection, Purpose::Verify).await?;
        let compared = async {
            let live_generation = self.live_generation_number(projection).await?;
            let bound = LiveBound {
                generation: live_generation,
                grace: VERIFY_GRACE,
            };
            self.fill_bounded(
                projection,
                &mut build,
                progress.as_ref(),
                false,
                Some(&bound),
            )
            .await?;
            let lease = Exclusive::acquire(&self.pool, name).await?;
            self.fill_bounded(
                projection,
                &mut build,
                progress.as_ref(),
                true,
                Some(&bound),
            )
            .await?;
            // What the live generation received since a page was read (it moves on while the
            // rebuild is filled): its markers are frozen now, under the lease.
            self.top_up(projection, live_generation, build.generation)
                .await?;
            let live = self.snapshot(projection).await?;
            let rebuilt = self
                .snapshot_generation(projection, build.generation, false)
                .await?;
            drop(lease);
            self.differences(projection, &live, &rebuilt).await
        }
        .await;
        let dropped = self.drop_generation(projection, build.generation).await;
        let differences = compared?;
        dropped?;
        Ok(VerifyReport {
            generation: build.generation,
            events: build.events,
            differences,
        })
    }

    /// Every stream's marker in generation `generation` of `projection` (of `streams` only, when
    /// given).
    pub(super) async fn markers_of(
        &self,
        projection: &Projection,
        generation: u32,
        streams: Option<&[&str]>,
    ) -> Result<HashMap<String, u64>, RuntimeError> {
        let name = projection.name();
        Ok(match projection {
            Projection::Postgres(_) => {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT stream_id, version FROM projection_versions \
                     WHERE projection = $1 AND generation = $2 \
                       AND ($3::text[] IS NULL OR stream_id = ANY($3))",
                )
                .bind(name)
                .bind(generation as i32)
                .bind(streams)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(stream, version)| (stream, version as u64))
                    .collect()
            }
            Projection::Redis(_) => {
                let key = redis_keys(&self.redis_prefix, name, generation).key("versions");
                let mut redis = self.redis();
                match streams {
                    Some(streams) if !streams.is_empty() => {
                        let versions: Vec<Option<u64>> = redis::cmd("HMGET")
                            .arg(&key)
                            .arg(streams)
                            .query_async(&mut redis)
                            .await?;
                        streams
                            .iter()
                            .zip(versions)
                            .filter_map(|(stream, version)| Some(((*stream).to_owned(), version?)))
                            .collect()
                    }
                    Some(_) => HashMap::new(),
                    None => {
                        redis::cmd("HGETALL")
                            .arg(&key)
                            .query_async(&mut redis)
                            .await?
                    }
                }
            }
        })
    }

    /// Applies to generation `scratch` the versions generation `live` has applied and `scratch`
    /// has not (events younger than the grace period the live one received meanwhile): the
    /// last one of each such stream, the runtime filling the versions before it from the log.
    async fn top_up(
        &self,
        projection: &Projection,
        live: u32,
        scratch: u32,
    ) -> Result<(), RuntimeError> {
        let ahead = self.markers_of(projection, live, None).await?;
        let built = self.markers_of(projection, scratch, None).await?;
        let mut missing: Vec<RecordedEvent> = Vec::new();
        let mut conn = self.pool.acquire().await?;
        for (stream, version) in ahead {
            if built.get(&stream).is_some_and(|done| *done >= version) {
                continue;
            }
            let Ok(stream) = StreamId::parse(stream) else {
                continue;
            };
            missing.extend(
                event_store::read_stream_range(&mut conn, &stream, version..version + 1).await?,
            );
        }
        drop(conn);
        for chunk in missing.chunks(500) {
            let events: Vec<&RecordedEvent> = chunk.iter().collect();
            self.handle_batch_with(projection, &events, Target::Building(scratch))
                .await;
        }
        Ok(())
    }

    /// The differences between two snapshots of `projection`.
    async fn differences(
        &self,
        projection: &Projection,
        live: &Value,
        rebuilt: &Value,
    ) -> Result<Vec<Difference>, RuntimeError> {
        let mut found = Vec::new();
        match projection {
            Projection::Postgres(model) => {
                for table in model.tables() {
                    let key_columns = self.primary_key(table).await?;
                    let by_key = |snapshot: &Value| -> BTreeMap<String, Value> {
                        snapshot["tables"][*table]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|row| {
                                let key = key_columns
                                    .iter()
                                    .map(|column| plain(&row[column.as_str()]))
                                    .collect::<Vec<_>>()
                                    .join("/");
                                (key, row.clone())
                            })
                            .collect()
                    };
                    compare_maps(table, &by_key(live), &by_key(rebuilt), &mut found);
                }
                let versions = |snapshot: &Value| -> BTreeMap<String, Value> {
                    snapshot["versions"]
                        .as_object()
                        .map(|map| {
                            map.iter()
                                .map(|(stream, version)| {
                                    (stream.clone(), serde_json::json!({ "version": version }))
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                compare_maps("versions", &versions(live), &versions(rebuilt), &mut found);
            }
            Projection::Redis(_) => {
                let keys = |snapshot: &Value| -> BTreeMap<String, Value> {
                    snapshot
                        .as_object()
                        .map(|map| map.clone().into_iter().collect())
                        .unwrap_or_default()
                };
                let (live, rebuilt) = (keys(live), keys(rebuilt));
                let all: BTreeSet<&String> = live.keys().chain(rebuilt.keys()).collect();
                for key in all {
                    match (live.get(key), rebuilt.get(key)) {
                        (Some(a), Some(b)) if a == b => {}
                        (Some(a), Some(b)) if a["type"] == "hash" && b["type"] == "hash" => {
                            compare_fields(key, "", &a["value"], &b["value"], &mut found);
                        }
                        (a, b) => found.push(Difference {
                            place: key.clone(),
                            key: String::new(),
                            field: "*".to_owned(),
                            live: text(a),
                            rebuilt: text(b),
                        }),
                    }
                }
            }
        }
        Ok(found)
    }

    /// The primary key columns of `public.<table>`, in key order.
    async fn primary_key(&self, table: &str) -> Result<Vec<String>, RuntimeError> {
        Ok(sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n",
        )
        .bind(format!("public.\"{table}\""))
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Rows (or markers) by key on both sides: a row on one side only is one difference, a row on
/// both is compared field by field.
fn compare_maps(
    place: &str,
    live: &BTreeMap<String, Value>,
    rebuilt: &BTreeMap<String, Value>,
    found: &mut Vec<Difference>,
) {
    let all: BTreeSet<&String> = live.keys().chain(rebuilt.keys()).collect();
    for key in all {
        match (live.get(key), rebuilt.get(key)) {
            (Some(a), Some(b)) => compare_fields(place, key, a, b, found),
            (a, b) => found.push(Difference {
                place: place.to_owned(),
                key: key.clone(),
                field: "*".to_owned(),
                live: text(a),
                rebuilt: text(b),
            }),
        }
    }
}

/// Two JSON objects field by field.
fn compare_fields(
    place: &str,
    key: &str,
    live: &Value,
    rebuilt: &Value,
    found: &mut Vec<Difference>,
) {
    let empty = serde_json::Map::new();
    let a = live.as_object().unwrap_or(&empty);
    let b = rebuilt.as_object().unwrap_or(&empty);
    let fields: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for field in fields {
        if a.get(field) != b.get(field) {
            found.push(Difference {
                place: place.to_owned(),
                key: key.to_owned(),
                field: field.clone(),
                live: text(a.get(field)),
                rebuilt: text(b.get(field)),
            });
        }
    }
}

fn text(value: Option<&Value>) -> String {
    value.map_or_else(|| "null".to_owned(), Value::to_string)
}

/// A key column's value without JSON quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
