//! A read model's whole state as deterministic JSON, for the "rebuilt equals live" check.
//!
//! **Invariant.** Two read models hold the same state if and only if their snapshots are equal:
//! every row or key is included, in a sorted order, with its markers; nothing that legitimately
//! differs between a live and a rebuilt model is (the Redis epoch and build token, the
//! generation's number or schema).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::generations::{Epoch, pg_schema, redis_keys};
use super::{ProjectionRuntime, RuntimeError};
use crate::Projection;

impl ProjectionRuntime {
    /// The state of `projection`: PostgreSQL `{"tables": {table: [rows sorted]}, "versions":
    /// {stream: version}}`; Redis `{key suffix: contents}` with hashes as objects, sets and
    /// sorted sets sorted, lists in order (the versions hash included, the epoch left out).
    pub async fn snapshot(&self, projection: &Projection) -> Result<Value, RuntimeError> {
        let live = self.live_generation_number(projection).await?;
        self.snapshot_generation(projection, live, true).await
    }

    /// The number of the live generation of `projection` (0: the layout from before
    /// generations, or none yet).
    pub async fn live_generation_number(
        &self,
        projection: &Projection,
    ) -> Result<u32, RuntimeError> {
        Ok(match projection {
            Projection::Postgres(model) => self
                .live_generation(model.name())
                .await?
                .map_or(0, |live| live.generation),
            Projection::Redis(model) => self
                .stored_epoch(model.name())
                .await?
                .map_or(0, |value| Epoch::parse(&value).generation),
        })
    }

    /// The state of generation `generation` of `projection` (the same shape as
    /// [`ProjectionRuntime::snapshot`]); `live` says where its PostgreSQL tables are.
    pub(super) async fn snapshot_generation(
        &self,
        projection: &Projection,
        generation: u32,
        live: bool,
    ) -> Result<Value, RuntimeError> {
        match projection {
            Projection::Postgres(model) => {
                let schema = if live {
                    "public".to_owned()
                } else {
                    pg_schema(model.name(), generation)
                };
                let mut tables = BTreeMap::new();
                for table in model.tables() {
                    let rows: Value = sqlx::query_scalar(&format!(
                        "SELECT coalesce(jsonb_agg(r ORDER BY r::text), '[]'::jsonb) \
                         FROM (SELECT to_jsonb(t) AS r FROM \"{schema}\".\"{table}\" t) rows"
                    ))
                    .fetch_one(&self.pool)
                    .await?;
                    tables.insert((*table).to_owned(), rows);
                }
                let versions: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT stream_id, version FROM projection_versions \
                     WHERE projection = $1 AND generation = $2",
                )
                .bind(model.name())
                .bind(generation as i32)
                .fetch_all(&self.pool)
                .await?;
                let versions: BTreeMap<String, i64> = versions.into_iter().collect();
                Ok(json!({ "tables": tables, "versions": versions }))
            }
            Projection::Redis(model) => {
                let keys = redis_keys(&self.redis_prefix, model.name(), generation);
                let token = keys.key("building");
                let prefix = format!("{}:", keys.base());
                let mut redis = self.redis();
                let mut state = BTreeMap::new();
                for key in self.generation_keys(model.name(), generation).await? {
                    if key == token {
                        continue;
                    }
                    let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut redis).await?;
                    let value = match kind.as_str() {
                        "string" => json!(
                            redis::cmd("GET")
                                .arg(&key)
                                .query_async::<Option<String>>(&mut redis)
                                .await?
                        ),
                        "hash" => json!(
                            redis::cmd("HGETALL")
                                .arg(&key)
                                .query_async::<BTreeMap<String, String>>(&mut redis)
                                .await?
                        ),
                        "set" => {
                            let mut members: Vec<String> = redis::cmd("SMEMBERS")
                                .arg(&key)
                                .query_async(&mut redis)
                                .await?;
                            members.sort();
                            json!(members)
                        }
                        "zset" => json!(
                            redis::cmd("ZRANGE")
                                .arg(&key)
                                .arg(0)
                                .arg(-1)
                                .arg("WITHSCORES")
                                .query_async::<Vec<(String, String)>>(&mut redis)
                                .await?
                        ),
                        "list" => json!(
                            redis::cmd("LRANGE")
                                .arg(&key)
                                .arg(0)
                                .arg(-1)
                                .query_async::<Vec<String>>(&mut redis)
                                .await?
                        ),
                        // Gone between SCAN and TYPE.
                        "none" => continue,
                        other => json!({ "unsupported_type": other }),
                    };
                    let suffix = key.strip_prefix(&prefix).unwrap_or(&key).to_owned();
                    state.insert(suffix, json!({ "type": kind, "value": value }));
                }
                Ok(json!(state))
            }
        }
    }
}
