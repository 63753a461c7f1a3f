//! Read-model generations: where each copy of a read model lives, and the registry that says
//! which copy is live (docs/read-model-generations.md; table `read_model_generations`).
//!
//! **Invariants.**
//! - At most one generation of a model is live and at most one is building (unique indexes).
//!   No live row means generation 0: the layout that existed before generations (the migrated
//!   tables in `public`, the keys directly under `<prefix>:<model>:`).
//! - PostgreSQL: the live generation's tables are the ones in `public`, whatever its number, so
//!   readers never resolve anything; every other generation's tables are in its own schema
//!   ([`pg_schema`]). Markers carry their generation (`projection_versions.generation`).
//! - Redis: generation N's keys, markers included, are under `<prefix>:<model>:g<N>:`; the epoch
//!   key `<prefix>:<model>:epoch` names the live one ([`Epoch`]). Readers resolve it per request.
//! - A live batch resolves the live generation *after* taking the model's lease shared, so a
//!   switch (which holds it exclusively) never happens between the resolution and the batch's
//!   commit: a batch's writes and markers always land in one generation.

use chrono::{DateTime, Utc};
use event_store::AllPosition;
use sqlx::{PgConnection, Row};

use crate::{KeySpace, Projection};

use super::{ProjectionRuntime, RuntimeError};

/// Where a batch's writes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The live generation. The batch takes the model's lease shared and resolves the live
    /// generation under it; a Redis batch writes nothing if the epoch is gone.
    Live,
    /// Generation N, being built by whoever holds the model's replay lock (`replay.rs`): no
    /// lease, writes into N's own schema or keys, markers and parked events of N.
    Building(u32),
}

impl Target {
    /// The name parked events of this target are kept under: the model's for the live one,
    /// `<model>@g<N>` for a generation being built (so a replay's parked events never stop a
    /// stream of the live generation).
    pub(super) fn parking(self, name: &str) -> String {
        match self {
            Self::Live => name.to_owned(),
            Self::Building(generation) => building_parking(name, generation),
        }
    }
}

/// The parking name of generation `generation` of `name` while it is not live.
pub(super) fn building_parking(name: &str, generation: u32) -> String {
    format!("{name}@g{generation}")
}

/// The schema holding generation `generation` of PostgreSQL model `name` while it is not live.
pub fn pg_schema(name: &str, generation: u32) -> String {
    format!("rm_{name}_g{generation}")
}

/// A PostgreSQL model's DDL (`PostgresProjection::ddl`) in two parts: what a new generation is
/// created with (tables, primary keys, constraints, unique indexes) and its secondary indexes,
/// which a replay creates once its fill has reached the head of the log
/// (docs/read-model-generations.md, "Secondary indexes after the fill"). Building a btree once
/// over the filled table costs a fraction of keeping it in step through a million inserts of
/// random keys. The index statements get `IF NOT EXISTS`: a resumed replay may have made them.
/// Nothing a projection writes may depend on a secondary index (none reads back through one:
/// conflicts are on primary keys), so the rows are the same either way.
pub fn split_ddl(ddl: &str) -> (String, Vec<String>) {
    let mut tables = String::new();
    let mut indexes = Vec::new();
    let code: String = ddl
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        match statement.strip_prefix("CREATE INDEX ") {
            Some(rest) if !rest.starts_with("IF NOT EXISTS") => {
                indexes.push(format!("CREATE INDEX IF NOT EXISTS {rest}"));
            }
            Some(_) => indexes.push(statement.to_owned()),
            None => {
                tables.push_str(statement);
                tables.push_str(";\n");
            }
        }
    }
    (tables, indexes)
}

/// The Redis keys of generation `generation` of model `name` under `prefix`.
pub fn redis_keys(prefix: &str, name: &str, generation: u32) -> KeySpace {
    match generation {
        0 => KeySpace::new(prefix, name),
        n => KeySpace::new(prefix, &format!("{name}:g{n}")),
    }
}

/// The value of a Redis model's epoch key: which generation is live, built by which version of
/// the projection's code. Written `g<generation>.v<version>`; any other value (an epoch written
/// before generations existed) means generation 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// The live generation.
    pub generation: u32,
    /// The projection version that built it (`None` for generation 0).
    pub version: Option<u32>,
}

impl Epoch {
    /// Reads an epoch value.
    pub fn parse(value: &str) -> Self {
        let parsed = value.strip_prefix('g').and_then(|rest| {
            let (generation, version) = rest.split_once(".v")?;
            Some(Self {
                generation: generation.parse().ok()?,
                version: Some(version.parse().ok()?),
            })
        });
        parsed.unwrap_or(Self {
            generation: 0,
            version: None,
        })
    }

    /// The value to store.
    pub fn value(self) -> String {
        format!("g{}.v{}", self.generation, self.version.unwrap_or(0))
    }
}

/// The epoch key of Redis model `name` under `prefix`.
pub fn epoch_key(prefix: &str, name: &str) -> String {
    KeySpace::new(prefix, name).key("epoch")
}

/// The live generation's keys of Redis model `name`, as a reader resolves them: the epoch names
/// it; without an epoch (a Redis that lost its data, or a model never built) generation 0.
pub async fn live_redis_keys(
    redis: &mut (impl redis::aio::ConnectionLike + Send),
    prefix: &str,
    name: &str,
) -> Result<KeySpace, redis::RedisError> {
    let epoch: Option<String> = redis::cmd("GET")
        .arg(epoch_key(prefix, name))
        .query_async(redis)
        .await?;
    let generation = epoch.map_or(0, |value| Epoch::parse(&value).generation);
    Ok(redis_keys(prefix, name, generation))
}

/// The live generation of PostgreSQL model `name`, resolved under its lease taken shared for the
/// transaction open on `tx` ([`RuntimeError::LeaseBusy`] while a switch holds it).
pub(super) async fn live_pg_generation(
    tx: &mut PgConnection,
    name: &str,
) -> Result<u32, RuntimeError> {
    super::lease::try_shared(&mut *tx, name).await?;
    let live: Option<i32> = sqlx::query_scalar(
        "SELECT generation FROM read_model_generations WHERE projection = $1 AND status = 'live'",
    )
    .bind(name)
    .fetch_optional(tx)
    .await?;
    Ok(live.map_or(0, |live| live as u32))
}

/// The registry's name of the store `projection` lives in.
pub(super) fn store_name(projection: &Projection) -> &'static str {
    match projection {
        Projection::Postgres(_) => "postgres",
        Projection::Redis(_) => "redis",
    }
}

/// The status of a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being filled from the log.
    Building,
    /// What readers and consumers use.
    Live,
    /// Was live; kept for a rollback until dropped.
    Retired,
    /// Gone (its number is never used again).
    Dropped,
}

impl Status {
    fn parse(text: &str) -> Self {
        match text {
            "building" => Self::Building,
            "live" => Self::Live,
            "retired" => Self::Retired,
            _ => Self::Dropped,
        }
    }
}

/// Why a generation is being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// To switch to.
    Replay,
    /// To compare with the live one, then drop.
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Verify => "verify",
        }
    }
}

/// One row of the registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Generation {
    /// The model.
    pub projection: String,
    /// Its number (0: the layout from before generations).
    pub generation: u32,
    /// Where it stands.
    pub status: Status,
    /// Why it was built.
    pub purpose: Purpose,
    /// The projection code's version that built it.
    pub model_version: u32,
    /// How far into `$all` it was filled.
    #[serde(skip)]
    pub checkpoint: AllPosition,
    /// Events of the model's categories replayed into it.
    pub events: u64,
    /// The log's last position when the build started.
    pub head_position: u64,
    /// When its build started.
    pub started_at: DateTime<Utc>,
    /// When it became live.
    pub switched_at: Option<DateTime<Utc>>,
    /// When it stopped being live.
    pub retired_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "projection, generation, status, purpose, model_version, checkpoint_tx, \
    checkpoint_position, events, head_position, started_at, switched_at, retired_at";

fn generation_row(row: &sqlx::postgres::PgRow) -> Result<Generation, sqlx::Error> {
    let purpose: String = row.try_get("purpose")?;
    Ok(Generation {
        projection: row.try_get("projection")?,
        generation: row.try_get::<i32, _>("generation")? as u32,
        status: Status::parse(row.try_get("status")?),
        purpose: if purpose == "verify" {
            Purpose::Verify
        } else {
            Purpose::Replay
        },
        model_version: row.try_get::<i32, _>("model_version")? as u32,
        checkpoint: AllPosition {
            tx_id: row.try_get::<i64, _>("checkpoint_tx")? as u64,
            position: row.try_get::<i64, _>("checkpoint_position")? as u64,
        },
        events: row.try_get::<i64, _>("events")? as u64,
        head_position: row.try_get::<i64, _>("head_position")? as u64,
        started_at: row.try_get("started_at")?,
        switched_at: row.try_get("switched_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

impl ProjectionRuntime {
    /// The epoch of Redis model `name` as stored, if any.
    pub(super) async fn stored_epoch(&self, name: &str) -> Result<Option<String>, RuntimeError> {
        Ok(redis::cmd("GET")
            .arg(epoch_key(&self.redis_prefix, name))
            .query_async(&mut self.redis())
            .await?)
    }

    /// The live epoch of Redis model `model`, parsed and as stored; [`RuntimeError::ReadModelLost`]
    /// without one, [`RuntimeError::OtherVersion`] when another version of the code built it.
    pub(super) async fn live_epoch(
        &self,
        model: &dyn crate::RedisProjection,
    ) -> Result<(Epoch, String), RuntimeError> {
        let Some(value) = self.stored_epoch(model.name()).await? else {
            return Err(RuntimeError::ReadModelLost {
                projection: model.name().to_owned(),
            });
        };
        let epoch = Epoch::parse(&value);
        if let Some(version) = epoch.version
            && version != model.version()
        {
            return Err(RuntimeError::OtherVersion {
                projection: model.name().to_owned(),
                live: version,
                code: model.version(),
            });
        }
        Ok((epoch, value))
    }

    /// Every generation of `projection` not dropped, newest first.
    pub async fn generations(&self, projection: &str) -> Result<Vec<Generation>, RuntimeError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM read_model_generations \
             WHERE projection = $1 AND status <> 'dropped' ORDER BY generation DESC"
        ))
        .bind(projection)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(generation_row).collect::<Result<_, _>>()?)
    }

    /// The live generation's row, if the model has one (none: generation 0 or never built).
    pub async fn live_generation(
        &self,
        projection: &str,
    ) -> Result<Option<Generation>, RuntimeError> {
        Ok(self
            .generations(projection)
            .await?
            .into_iter()
            .find(|each| each.status == Status::Live))
    }

    /// The number the next generation of `projection` gets: never one used before.
    pub(super) async fn next_generation(
        &self,
        conn: &mut PgConnection,
        projection: &str,
    ) -> Result<u32, RuntimeError> {
        let last: Option<i32> = sqlx::query_scalar(
            "SELECT max(generation) FROM read_model_generations WHERE projection = $1",
        )
        .bind(projection)
        .fetch_one(conn)
        .await?;
        Ok(last.map_or(1, |last| last as u32 + 1))
    }

    /// Registers generation `generation` of `projection` as building.
    pub(super) async fn register_building(
        &self,
        conn: &mut PgConnection,
        projection: &Projection,
        generation: u32,
        purpose: Purpose,
        head_position: u64,
    ) -> Result<(), RuntimeError> {
        sqlx::query(
            "INSERT INTO read_model_generations \
             (projection, generation, store, status, purpose, model_version, head_position) \
             VALUES ($1, $2, $3, 'building', $4, $5, $6)",
        )
        .bind(projection.name())
        .bind(generation as i32)
        .bind(store_name(projection))
        .bind(purpose.as_str())
        .bind(projection.version() as i32)
        .bind(head_position as i64)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Records how far generation `generation` of `projection` was filled.
    pub(super) async fn record_checkpoint(
        &self,
        projection: &str,
        generation: u32,
        checkpoint: AllPosition,
        events: u64,
    ) -> Result<(), RuntimeError> {
        sqlx::query(
            "UPDATE read_model_generations \
             SET checkpoint_tx = $3, checkpoint_position = $4, events = $5 \
             WHERE projection = $1 AND generation = $2",
        )
        .bind(projection)
        .bind(generation as i32)
        .bind(checkpoint.tx_id as i64)
        .bind(checkpoint.position as i64)
        .bind(events as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl ProjectionRuntime {
    /// Every key of generation `generation` of Redis model `name`, via SCAN (never KEYS): for
    /// generation 0 the keys directly under the model's base, without the epoch and without
    /// other generations' keys.
    pub(super) async fn generation_keys(
        &self,
        name: &str,
        generation: u32,
    ) -> Result<Vec<String>, RuntimeError> {
        let keys = redis_keys(&self.redis_prefix, name, generation);
        let pattern = format!("{}:*", escape_glob(keys.base()));
        let epoch = epoch_key(&self.redis_prefix, name);
        let other_generation = |key: &str| {
            key.strip_prefix(keys.base())
                .and_then(|rest| rest.strip_prefix(":g"))
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(number, _)| {
                    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
                })
        };
        let mut redis = self.redis();
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await?;
            found.extend(
                page.into_iter()
                    .filter(|key| generation != 0 || (*key != epoch && !other_generation(key))),
            );
            if next == 0 {
                found.sort();
                found.dedup();
                return Ok(found);
            }
            cursor = next;
        }
    }
}

/// Escapes the characters SCAN's MATCH treats as a glob.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::split_ddl;

    #[test]
    fn a_models_ddl_splits_into_what_a_generation_starts_with_and_its_secondary_indexes() {
        let ddl = "-- a comment; with a semicolon\nCREATE TABLE t (a int PRIMARY KEY, b int);\n\n\
                   CREATE INDEX t_b ON t (b)\n    WHERE b IS NOT NULL;\n\
                   CREATE UNIQUE INDEX t_ab ON t (a, b);\n\
                   CREATE INDEX IF NOT EXISTS t_ba ON t (b, a);\n";
        let (tables, indexes) = split_ddl(ddl);
        assert_eq!(
            tables,
            "CREATE TABLE t (a int PRIMARY KEY, b int);\nCREATE UNIQUE INDEX t_ab ON t (a, b);\n"
        );
        assert_eq!(
            indexes,
            [
                "CREATE INDEX IF NOT EXISTS t_b ON t (b)\n    WHERE b IS NOT NULL",
                "CREATE INDEX IF NOT EXISTS t_ba ON t (b, a)",
            ]
        );
    }

    #[test]
    fn every_secondary_index_of_every_model_is_deferred_and_every_table_is_not() {
        for projection in crate::read_models::all() {
            let crate::Projection::Postgres(model) = projection else {
                continue;
            };
            let (tables, indexes) = split_ddl(model.ddl());
            for table in model.tables() {
                assert!(
                    tables.contains(&format!("CREATE TABLE {table} (")),
                    "{table}"
                );
            }
            assert_eq!(
                indexes.len(),
                model.ddl().matches("CREATE INDEX").count(),
                "{}",
                model.name()
            );
            assert!(!tables.contains("CREATE INDEX"), "{}", model.name());
        }
    }
}
