//! Replay: building a read model's next generation from the log while the live one serves, then
//! switching to it atomically; rolling back; dropping retired generations
//! (docs/read-model-generations.md). Verify (`verify.rs`) builds a generation the same way.
//!
//! **Invariants.**
//! - One builder per model at a time, across replicas: a replay, a verify, a rollback and a
//!   start-up rebuild all hold the model's replay lock (a session advisory lock on a connection
//!   of their own, released when it ends or the process dies); a second one refuses at once with
//!   [`RuntimeError::ReplayRunning`].
//! - A generation being built is invisible: readers use `public` tables and the epoch's keys,
//!   consumers resolve the live generation under the model's lease. Its pages are applied with
//!   the same batch handling as the live consumer (`handle.rs`, `apply.rs`): per-stream markers
//!   of its own, so a page applied twice (after a crash between a page and its checkpoint) is a
//!   duplicate.
//! - The switch happens under the model's lease held exclusively: no live batch is in flight,
//!   the last pages are read until `$all` has nothing more below its watermark, then one
//!   PostgreSQL transaction moves the tables (or one Redis script sets the epoch) and updates the
//!   registry. Whatever the live generation had applied was published by the relay, so it was
//!   below the `$all` watermark (the relay reads `$all` the same gap-safe way) and committed
//!   before the lease was granted: the new generation holds it too. Events still held back
//!   behind an open transaction were published to no one yet: the consumer applies them to the
//!   new generation later. Nothing is applied to the live one between the final read and the
//!   switch.
//! - Interrupted anywhere, the live generation is untouched; the building one is resumed from
//!   its checkpoint by the next replay (same code version, its schema or its Redis build token
//!   still there), or dropped and started again. A Redis that loses its data during a build loses
//!   the build token: the switch refuses and the build starts again.

use std::sync::Arc;
use std::time::Duration;

use event_store::{AllPosition, RecordedEvent};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgPool, Postgres};
use tokio::time::Instant;
use tracing::instrument;

use super::generations::{
    Epoch, Generation, Purpose, Status, Target, building_parking, epoch_key, pg_schema, redis_keys,
    split_ddl, store_name,
};
use super::lease::Exclusive;
use super::{Handled, ProjectionRuntime, RuntimeError};
use crate::Projection;

/// How long a build waits (before the switch, without the lease) for a transaction that holds
/// `$all` back, before it gives up (the next replay resumes).
const MAX_HELD_BACK: Duration = Duration::from_secs(60);
/// How often it looks again meanwhile.
const HELD_BACK_POLL: Duration = Duration::from_millis(20);

/// Sets the epoch (`KEYS[2]` = `ARGV[1]`) only if the build token (`KEYS[1]`) is still there
/// (Redis kept the whole build), and removes the token; returns whether it did.
const SWITCH_EPOCH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
";

/// Where a build stands, for progress bars, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The generation being built.
    pub generation: u32,
    /// The last position of `$all` read.
    pub position: u64,
    /// The log's last position when the build started (the bar's length).
    pub head: u64,
    /// Events of the model's categories applied so far.
    pub events: u64,
    /// Whether the build is in its final catch-up, under the lease.
    pub switching: bool,
}

/// Receives a build's progress after every page.
pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayReport {
    /// The generation now live.
    pub generation: u32,
    /// The generation it replaced (0 also when there was none).
    pub replaced: u32,
    /// Events of the model's categories applied into it (over every run, if resumed).
    pub events: u64,
    /// Of those, parked (they failed, or their stream was stopped).
    pub parked: u64,
    /// Whether it continued a build an earlier run left.
    pub resumed: bool,
}

/// The model's replay lock, held until dropped (its connection is then closed).
pub(super) struct ReplayLock {
    _conn: PoolConnection<Postgres>,
}

impl ReplayLock {
    /// Takes model `name`'s replay lock, or fails at once with [`RuntimeError::ReplayRunning`].
    pub(super) async fn try_acquire(pool: &PgPool, name: &str) -> Result<Self, RuntimeError> {
        let mut conn = pool.acquire().await?;
        conn.close_on_drop();
        let taken: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended('projection-replay/' || $1, 0))",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
        if taken {
            Ok(Self { _conn: conn })
        } else {
            Err(RuntimeError::ReplayRunning {
                projection: name.to_owned(),
            })
        }
    }
}

/// A generation being built, as the builder tracks it.
pub(super) struct Build {
    pub(super) generation: u32,
    pub(super) checkpoint: AllPosition,
    pub(super) events: u64,
    pub(super) parked: u64,
    pub(super) head: u64,
    pub(super) resumed: bool,
}

impl ProjectionRuntime {
    /// Builds a new generation of `projection` from the log and switches to it (module docs);
    /// resumes a build an interrupted replay left. Also what [`ProjectionRuntime::rebuild`] does.
    #[instrument(skip_all, fields(projection = projection.name()))]
    pub async fn replay(
        &self,
        projection: &Projection,
        progress: Option<ProgressSink>,
    ) -> Result<ReplayReport, RuntimeError> {
        let _lock = ReplayLock::try_acquire(&self.pool, projection.name()).await?;
        let build = self.start_build(projection, Purpose::Replay).await?;
        let report = self
            .catch_up_and_switch(projection, build, progress)
            .await?;
        if let Err(error) = self.drop_retired(projection).await {
            tracing::warn!(%error, "could not drop old retired generations");
        }
        Ok(report)
    }

    /// Fills `build` up to the head of the log, then (under the model's lease held exclusively)
    /// reads the rest and switches to it: the end of a replay and of a rollback.
    async fn catch_up_and_switch(
        &self,
        projection: &Projection,
        mut build: Build,
        progress: Option<ProgressSink>,
    ) -> Result<ReplayReport, RuntimeError> {
        self.fill(projection, &mut build, progress.as_ref(), false)
            .await?;
        self.create_indexes(projection, build.generation).await?;
        let lease = Exclusive::acquire(&self.pool, projection.name()).await?;
        self.fill(projection, &mut build, progress.as_ref(), true)
            .await?;
        let replaced = self.switch(projection, &build).await?;
        drop(lease);
        self.metrics
            .record_replay(projection.name(), build.generation);
        tracing::info!(
            generation = build.generation,
            replaced,
            events = build.events,
            parked = build.parked,
            "switched to the new generation"
        );
        Ok(ReplayReport {
            generation: build.generation,
            replaced,
            events: build.events,
            parked: build.parked,
            resumed: build.resumed,
        })
    }

    /// Replays `projection` into a new generation and switches to it: the old "clear and
    /// replay in place" is gone, readers see the old generation until the switch.
    pub async fn rebuild(&self, projection: &Projection) -> Result<ReplayReport, RuntimeError> {
        self.replay(projection, None).await
    }

    /// Makes the newest retired generation of `projection` live again: it catches up with the
    /// log from where it was retired, then switches like a replay. Only a generation the
    /// running code's version built (roll back with the binary that built it).
    #[instrument(skip_all, fields(projection = projection.name()))]
    pub async fn rollback(
        &self,
        projection: &Projection,
        progress: Option<ProgressSink>,
    ) -> Result<ReplayReport, RuntimeError> {
        let name = projection.name();
        let _lock = ReplayLock::try_acquire(&self.pool, name).await?;
        let generations = self.generations(name).await?;
        if let Some(building) = generations.iter().find(|g| g.status == Status::Building) {
            self.drop_generation(projection, building.generation)
                .await?;
        }
        let Some(retired) = generations.iter().find(|g| g.status == Status::Retired) else {
            return Err(replay_error(name, "no retired generation to roll back to"));
        };
        if retired.model_version != projection.version() {
            return Err(replay_error(
                name,
                &format!(
                    "generation {} was built by version {} of the projection, this binary runs \
                     version {}: roll back with the binary that built it",
                    retired.generation,
                    retired.model_version,
                    projection.version()
                ),
            ));
        }
        sqlx::query(
            "UPDATE read_model_generations SET status = 'building', purpose = 'replay', \
             retired_at = NULL WHERE projection = $1 AND generation = $2",
        )
        .bind(name)
        .bind(retired.generation as i32)
        .execute(&self.pool)
        .await?;
        if let Projection::Redis(_) = projection {
            self.set_build_token(name, retired.generation).await?;
        }
        let build = Build {
            generation: retired.generation,
            checkpoint: retired.checkpoint,
            events: retired.events,
            parked: 0,
            head: self.head().await?,
            resumed: true,
        };
        self.catch_up_and_switch(projection, build, progress).await
    }

    /// Rebuilds `projection` if it has no generation this code's version built (never built
    /// here, Redis lost its epoch, or the projection's version went up). Waits while another
    /// replica builds it. Returns the replay's report when one ran here.
    pub async fn ensure_built(
        &self,
        projection: &Projection,
    ) -> Result<Option<ReplayReport>, RuntimeError> {
        loop {
            if self.is_built(projection).await? {
                return Ok(None);
            }
            tracing::warn!(
                projection = projection.name(),
                "no generation of this version (never built here, lost, or new code): replaying"
            );
            match self.replay(projection, None).await {
                Err(RuntimeError::ReplayRunning { .. }) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return other.map(Some),
            }
        }
    }

    /// Whether `projection` has a live generation built by this version or a later one (a
    /// worker never replays to an older version; it waits to be replaced).
    async fn is_built(&self, projection: &Projection) -> Result<bool, RuntimeError> {
        let name = projection.name();
        let code = projection.version();
        Ok(match projection {
            Projection::Postgres(_) => {
                match self.live_generation(name).await? {
                    Some(live) => live.model_version >= code,
                    None => sqlx::query_scalar::<_, bool>(
                        "SELECT EXISTS (SELECT 1 FROM projection_progress WHERE projection = $1)",
                    )
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?,
                }
            }
            Projection::Redis(_) => self
                .stored_epoch(name)
                .await?
                .is_some_and(|value| Epoch::parse(&value).version.is_none_or(|v| v >= code)),
        })
    }

    /// The generation to fill: the one an interrupted replay left, when it can be resumed;
    /// otherwise a new, empty one (a stale one is dropped first).
    pub(super) async fn start_build(
        &self,
        projection: &Projection,
        purpose: Purpose,
    ) -> Result<Build, RuntimeError> {
        let name = projection.name();
        if let Some(left) = self
            .generations(name)
            .await?
            .into_iter()
            .find(|g| g.status == Status::Building)
        {
            if purpose == Purpose::Replay && self.resumable(projection, &left).await? {
                tracing::info!(
                    generation = left.generation,
                    checkpoint = %left.checkpoint,
                    "resuming an interrupted replay"
                );
                return Ok(Build {
                    generation: left.generation,
                    checkpoint: left.checkpoint,
                    events: left.events,
                    parked: self.parked_count(name, left.generation).await?,
                    head: self.head().await?,
                    resumed: true,
                });
            }
            tracing::info!(generation = left.generation, "dropping an unfinished build");
            self.drop_generation(projection, left.generation).await?;
        }
        let head = self.head().await?;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let generation = self.next_generation(&mut tx, name).await?;
        self.register_building(&mut tx, projection, generation, purpose, head)
            .await?;
        if let Projection::Postgres(model) = projection {
            let schema = pg_schema(name, generation);
            sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT set_config('search_path', $1, true)")
                .bind(format!("\"{schema}\""))
                .execute(&mut *tx)
                .await?;
            // A plain string runs as a simple query: several statements in one round trip. The
            // secondary indexes come after the fill (`create_indexes`).
            let (tables, _) = split_ddl(model.ddl());
            sqlx::Executor::execute(&mut *tx, tables.as_str()).await?;
        }
        tx.commit().await?;
        if let Projection::Redis(_) = projection {
            self.set_build_token(name, generation).await?;
        }
        tracing::info!(generation, head, "building a new generation");
        Ok(Build {
            generation,
            checkpoint: AllPosition::START,
            events: 0,
            parked: 0,
            head,
            resumed: false,
        })
    }

    /// Creates the secondary indexes of PostgreSQL generation `generation` ([`split_ddl`]), once
    /// its fill has reached the head of the log and before the switch's final catch-up: the
    /// generation goes live with every index it was declared with.
    async fn create_indexes(
        &self,
        projection: &Projection,
        generation: u32,
    ) -> Result<(), RuntimeError> {
        let Projection::Postgres(model) = projection else {
            return Ok(());
        };
        let (_, indexes) = split_ddl(model.ddl());
        if indexes.is_empty() {
            return Ok(());
        }
        let began = Instant::now();
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(format!("\"{}\"", pg_schema(projection.name(), generation)))
            .execute(&mut *tx)
            .await?;
        sqlx::Executor::execute(&mut *tx, indexes.join(";\n").as_str()).await?;
        tx.commit().await?;
        tracing::info!(
            generation,
            indexes = indexes.len(),
            elapsed_ms = began.elapsed().as_millis() as u64,
            "secondary indexes created"
        );
        Ok(())
    }

    /// Whether the building generation `left` can be continued by this code.
    async fn resumable(
        &self,
        projection: &Projection,
        left: &Generation,
    ) -> Result<bool, RuntimeError> {
        if left.purpose != Purpose::Replay || left.model_version != projection.version() {
            return Ok(false);
        }
        Ok(match projection {
            Projection::Postgres(_) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(pg_schema(projection.name(), left.generation))
                    .fetch_one(&self.pool)
                    .await?
            }
            Projection::Redis(_) => {
                let token = redis_keys(&self.redis_prefix, projection.name(), left.generation)
                    .key("building");
                redis::cmd("EXISTS")
                    .arg(token)
                    .query_async::<bool>(&mut self.redis())
                    .await?
            }
        })
    }

    /// Writes the build token of Redis generation `generation`: gone if Redis loses its data
    /// before the switch, which then refuses.
    async fn set_build_token(&self, name: &str, generation: u32) -> Result<(), RuntimeError> {
        let token = redis_keys(&self.redis_prefix, name, generation).key("building");
        redis::cmd("SET")
            .arg(token)
            .arg(generation)
            .query_async::<()>(&mut self.redis())
            .await?;
        Ok(())
    }

    /// The log's last position (0 when empty).
    async fn head(&self) -> Result<u64, RuntimeError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(head.unwrap_or(0) as u64)
    }

    async fn parked_count(&self, name: &str, generation: u32) -> Result<u64, RuntimeError> {
        let parked: i64 =
            sqlx::query_scalar("SELECT count(*) FROM parked_events WHERE projection = $1")
                .bind(building_parking(name, generation))
                .fetch_one(&self.pool)
                .await?;
        Ok(parked as u64)
    }

    /// Applies `$all` from the build's checkpoint into its generation, a page at a time (the
    /// next page read while the current one is applied). Without `final_catch_up` it stops at a
    /// short page (near the head) once nothing is held back behind an open transaction (waiting
    /// for that a bounded time); with it (under the exclusive lease) it stops when `$all` has
    /// nothing more below its watermark, without waiting.
    pub(super) async fn fill(
        &self,
        projection: &Projection,
        build: &mut Build,
        progress: Option<&ProgressSink>,
        final_catch_up: bool,
    ) -> Result<(), RuntimeError> {
        self.fill_bounded(projection, build, progress, final_catch_up, None)
            .await
    }

    /// [`ProjectionRuntime::fill`], applying only the events `bound` keeps when given (verify:
    /// not what the live generation has yet to receive).
    pub(super) async fn fill_bounded(
        &self,
        projection: &Projection,
        build: &mut Build,
        progress: Option<&ProgressSink>,
        final_catch_up: bool,
        bound: Option<&super::verify::LiveBound>,
    ) -> Result<(), RuntimeError> {
        let name = projection.name();
        let categories = projection.categories();
        let page = self.replay_page;
        let mut held_since: Option<Instant> = None;
        // The page read ahead while the previous one was applied, if any.
        let mut ahead: Option<event_store::AllSlice> = None;
        loop {
            let slice = match ahead.take() {
                Some(slice) => slice,
                None => self.store.read_all(build.checkpoint, page).await?,
            };
            if slice.events.is_empty() {
                // Events held back behind an older open transaction (the `$all` watermark) are
                // waited for before the lease (bounded), not under it: the relay holds them back
                // too, so no live batch can have applied them (nor an earlier version of their
                // streams, which committed earlier still); they reach the new generation through
                // the consumer once they are published.
                if final_catch_up || !slice.held_back {
                    break;
                }
                if held_since.get_or_insert_with(Instant::now).elapsed() > MAX_HELD_BACK {
                    return Err(RuntimeError::HeldBack {
                        watermark: slice.watermark,
                    });
                }
                tokio::time::sleep(HELD_BACK_POLL).await;
                continue;
            }
            held_since = None;
            let short = slice.events.len() < page;
            let mut events: Vec<&RecordedEvent> = slice
                .events
                .iter()
                .filter(|event| categories.contains(&event.stream_id.category()))
                .collect();
            if let Some(bound) = bound {
                events = bound.keep(self, projection, events).await?;
            }
            let apply =
                self.handle_batch_with(projection, &events, Target::Building(build.generation));
            // A full page: the next one is read from the log while this one is written.
            let handled = if short {
                apply.await
            } else {
                let (handled, next) = tokio::join!(apply, self.store.read_all(slice.next, page));
                ahead = Some(next?);
                handled
            };
            for (event, handled) in events.iter().zip(handled) {
                match handled {
                    Handled::Applied(_) => {}
                    Handled::Parked => build.parked += 1,
                    Handled::RetryLater => {
                        return Err(replay_error(
                            name,
                            &format!(
                                "{} v{}: a dependency is unavailable; run the replay again \
                                 (it resumes)",
                                event.stream_id, event.version
                            ),
                        ));
                    }
                }
            }
            build.events += events.len() as u64;
            build.checkpoint = slice.next;
            self.record_checkpoint(name, build.generation, build.checkpoint, build.events)
                .await?;
            let now = Progress {
                generation: build.generation,
                position: build.checkpoint.position,
                head: build.head.max(build.checkpoint.position),
                events: build.events,
                switching: final_catch_up,
            };
            self.metrics.record_replay_progress(name, &now);
            if let Some(sink) = progress {
                sink(now);
            }
            if short && !final_catch_up && !slice.held_back {
                break;
            }
        }
        Ok(())
    }

    /// Makes generation `build` live, under the exclusive lease the caller holds: one
    /// transaction (PostgreSQL: the tables change schemas; Redis: the epoch is set by a script
    /// inside it). Returns the generation it replaced.
    async fn switch(&self, projection: &Projection, build: &Build) -> Result<u32, RuntimeError> {
        let name = projection.name();
        let new = build.generation;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let old: Option<i32> = sqlx::query_scalar(
            "SELECT generation FROM read_model_generations \
             WHERE projection = $1 AND status = 'live' FOR UPDATE",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let old = old.map_or(0, |old| old as u32);
        if let Projection::Postgres(model) = projection {
            let old_schema = pg_schema(name, old);
            let new_schema = pg_schema(name, new);
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{old_schema}\""))
                .execute(&mut *tx)
                .await?;
            for table in model.tables() {
                let present: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(format!("public.\"{table}\""))
                    .fetch_one(&mut *tx)
                    .await?;
                if present {
                    sqlx::query(&format!(
                        "ALTER TABLE public.\"{table}\" SET SCHEMA \"{old_schema}\""
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(&format!(
                    "ALTER TABLE \"{new_schema}\".\"{table}\" SET SCHEMA public"
                ))
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(&format!("DROP SCHEMA \"{new_schema}\""))
                .execute(&mut *tx)
                .await?;
        }
        // The old generation: retired (generation 0 gets a row now, to be found and dropped).
        sqlx::query(
            "INSERT INTO read_model_generations \
             (projection, generation, store, status, purpose, model_version, checkpoint_tx, \
              checkpoint_position, retired_at) \
             VALUES ($1, $2, $3, 'retired', 'replay', $4, $5, $6, now()) \
             ON CONFLICT (projection, generation) DO UPDATE SET status = 'retired', \
               retired_at = now(), checkpoint_tx = excluded.checkpoint_tx, \
               checkpoint_position = excluded.checkpoint_position",
        )
        .bind(name)
        .bind(old as i32)
        .bind(store_name(projection))
        .bind(projection.version() as i32)
        .bind(build.checkpoint.tx_id as i64)
        .bind(build.checkpoint.position as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE read_model_generations SET status = 'live', switched_at = now() \
             WHERE projection = $1 AND generation = $2",
        )
        .bind(name)
        .bind(new as i32)
        .execute(&mut *tx)
        .await?;
        // Parked events move with their generations.
        sqlx::query("UPDATE parked_events SET projection = $2 WHERE projection = $1")
            .bind(name)
            .bind(building_parking(name, old))
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE parked_events SET projection = $1 WHERE projection = $2")
            .bind(name)
            .bind(building_parking(name, new))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO projection_progress (projection) VALUES ($1) \
             ON CONFLICT (projection) DO UPDATE SET updated_at = now()",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if let Projection::Redis(_) = projection {
            let epoch = Epoch {
                generation: new,
                version: Some(projection.version()),
            };
            let switched: bool = redis::Script::new(SWITCH_EPOCH)
                .key(redis_keys(&self.redis_prefix, name, new).key("building"))
                .key(epoch_key(&self.redis_prefix, name))
                .arg(epoch.value())
                .invoke_async(&mut self.redis())
                .await?;
            if !switched {
                drop(tx);
                self.drop_generation(projection, new).await?;
                return Err(replay_error(
                    name,
                    "Redis lost the generation while it was built; run the replay again",
                ));
            }
        }
        // A failed commit after the epoch moved leaves the registry saying "building" for the
        // generation Redis serves: the next replay resumes it and switches again (a no-op).
        tx.commit().await?;
        Ok(old)
    }

    /// Drops generation `generation` of `projection` (never the live one): its schema or keys,
    /// markers and parked events; its number is not used again.
    pub async fn drop_generation(
        &self,
        projection: &Projection,
        generation: u32,
    ) -> Result<(), RuntimeError> {
        let name = projection.name();
        let live = self.live_generation(name).await?;
        if live.map_or(0, |live| live.generation) == generation {
            return Err(replay_error(name, "the live generation cannot be dropped"));
        }
        match projection {
            Projection::Postgres(_) => {
                sqlx::query(&format!(
                    "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                    pg_schema(name, generation)
                ))
                .execute(&self.pool)
                .await?;
            }
            Projection::Redis(_) => {
                let keys = redis_keys(&self.redis_prefix, name, generation);
                let all = self.generation_keys(name, generation).await?;
                let mut redis = self.redis();
                for chunk in all.chunks(1000) {
                    redis::cmd("UNLINK")
                        .arg(chunk)
                        .query_async::<()>(&mut redis)
                        .await?;
                }
                redis::cmd("DEL")
                    .arg(keys.key("building"))
                    .query_async::<()>(&mut redis)
                    .await?;
            }
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM projection_versions WHERE projection = $1 AND generation = $2")
            .bind(name)
            .bind(generation as i32)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM parked_events WHERE projection = $1")
            .bind(building_parking(name, generation))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE read_model_generations SET status = 'dropped' \
             WHERE projection = $1 AND generation = $2",
        )
        .bind(name)
        .bind(generation as i32)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(projection = name, generation, "generation dropped");
        Ok(())
    }

    /// Drops the retired generations of `projection` retired longer than the keep time
    /// (`projections.keep_retired_minutes`). Returns the generations dropped.
    pub async fn drop_retired(&self, projection: &Projection) -> Result<Vec<u32>, RuntimeError> {
        let due: Vec<i32> = sqlx::query_scalar(
            "SELECT generation FROM read_model_generations \
             WHERE projection = $1 AND status = 'retired' \
               AND retired_at <= now() - make_interval(secs => $2)",
        )
        .bind(projection.name())
        .bind(self.keep_retired.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut dropped = Vec::new();
        for generation in due {
            self.drop_generation(projection, generation as u32).await?;
            dropped.push(generation as u32);
        }
        Ok(dropped)
    }
}

/// A replay that could not complete, and why.
pub(super) fn replay_error(projection: &str, reason: &str) -> RuntimeError {
    RuntimeError::Replay {
        projection: projection.to_owned(),
        reason: reason.to_owned(),
    }
}
