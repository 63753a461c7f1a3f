//! Rebuilding a read model from the log, and deciding at start whether one must be rebuilt.
//!
//! **Invariants.**
//! - A rebuild first clears everything the projection owns (PostgreSQL: its tables, markers,
//!   parked events and progress row, in one transaction; Redis: every key under its base, the
//!   epoch first) and then replays `$all` from the start, filtered to the projection's
//!   categories, a page at a time through the same batch handling the live consumer uses
//!   (`handle.rs`). So a rebuilt read model equals the live one.
//! - The "built" mark (Redis: the epoch key; PostgreSQL: the progress row) is written only
//!   after the replay completed: a crash mid-rebuild leaves it missing, and the next start
//!   rebuilds again. A Redis that lost its data lost the epoch too (docs/redis-read-model-loss.md).
//!   A Redis that loses its data *during* a rebuild loses the rebuild's token key as well, and the
//!   epoch is then not written: the rebuild fails and is run again.
//! - A rebuild holds the model's lease exclusively from the clear to the mark (`lease.rs`): no
//!   consumer of the model on any replica applies a batch meanwhile (one could otherwise apply a
//!   later version first, and the replay would then skip earlier ones as duplicates, or write
//!   into a half-cleared model). So workers may run while an operator rebuilds, and two workers
//!   that find a model unbuilt at once rebuild it once: the second finds it built once it gets
//!   the lease ([`ProjectionRuntime::ensure_built`] looks again under the lease).

use std::time::Duration;

use event_store::AllPosition;
use tokio::time::Instant;
use tracing::instrument;

use super::apply::Lease;
use super::lease::Exclusive;
use super::{Handled, ProjectionRuntime, RuntimeError};
use crate::Projection;

/// Writes the epoch (`KEYS[2]` = `ARGV[2]`) only if the rebuild's token (`KEYS[1]` = `ARGV[1]`)
/// is still there, and removes the token; returns whether it did.
const MARK_BUILT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
";

/// Events read per page of `$all` during a rebuild.
const PAGE: usize = 500;
/// How long a rebuild waits for a transaction that holds `$all` back before it gives up.
const MAX_HELD_BACK: Duration = Duration::from_secs(60);
/// How often it looks again meanwhile.
const HELD_BACK_POLL: Duration = Duration::from_millis(20);

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebuildReport {
    /// Events of the projection's categories replayed.
    pub events: usize,
    /// Of those, parked (they failed again, or their stream was stopped).
    pub parked: usize,
}

impl ProjectionRuntime {
    /// Clears `projection` and replays the whole log into it, under the model's exclusive lease
    /// (module docs).
    #[instrument(skip_all, fields(projection = projection.name()))]
    pub async fn rebuild(&self, projection: &Projection) -> Result<RebuildReport, RuntimeError> {
        let lease = Exclusive::acquire(&self.pool, projection.name()).await?;
        let report = self.rebuild_under(projection).await;
        drop(lease);
        report
    }

    /// The rebuild itself; the caller holds the exclusive lease.
    async fn rebuild_under(&self, projection: &Projection) -> Result<RebuildReport, RuntimeError> {
        let token = uuid::Uuid::new_v4().to_string();
        self.clear(projection, &token).await?;
        let categories = projection.categories();
        let mut report = RebuildReport::default();
        let mut from = AllPosition::START;
        let mut held_since: Option<Instant> = None;
        loop {
            let slice = self.store.read_all(from, PAGE).await?;
            if slice.events.is_empty() {
                if !slice.held_back {
                    break;
                }
                // Committed events wait behind an older open transaction (the `$all`
                // watermark): skipping them would make the rebuild differ from the live model.
                if held_since.get_or_insert_with(Instant::now).elapsed() > MAX_HELD_BACK {
                    return Err(RuntimeError::HeldBack {
                        watermark: slice.watermark,
                    });
                }
                tokio::time::sleep(HELD_BACK_POLL).await;
                continue;
            }
            held_since = None;
            from = slice.next;
            let page: Vec<&event_store::RecordedEvent> = slice
                .events
                .iter()
                .filter(|event| categories.contains(&event.stream_id.category()))
                .collect();
            report.events += page.len();
            let handled = self.handle_batch_with(projection, &page, Lease::Held).await;
            for (event, handled) in page.iter().zip(handled) {
                match handled {
                    Handled::Applied(_) => {}
                    Handled::Parked => report.parked += 1,
                    Handled::RetryLater => {
                        return Err(RuntimeError::RedriveFailed {
                            stream: event.stream_id.to_string(),
                            version: Some(event.version),
                            error: "a dependency is unavailable; rebuild again later".into(),
                        });
                    }
                }
            }
        }
        self.mark_built(projection, &token).await?;
        tracing::info!(events = report.events, parked = report.parked, "rebuilt");
        Ok(report)
    }

    /// Rebuilds `projection` if it was never built here, or its Redis lost its data.
    /// Returns the rebuild's report when one ran.
    pub async fn ensure_built(
        &self,
        projection: &Projection,
    ) -> Result<Option<RebuildReport>, RuntimeError> {
        if self.is_built(projection).await? {
            return Ok(None);
        }
        let lease = Exclusive::acquire(&self.pool, projection.name()).await?;
        // Another worker may have rebuilt it while this one waited for the lease.
        if self.is_built(projection).await? {
            return Ok(None);
        }
        tracing::warn!(
            projection = projection.name(),
            "not built here (or lost): rebuilding"
        );
        let report = self.rebuild_under(projection).await;
        drop(lease);
        report.map(Some)
    }

    /// Whether `projection` was built here and (Redis) still has its data.
    async fn is_built(&self, projection: &Projection) -> Result<bool, RuntimeError> {
        Ok(match projection {
            Projection::Postgres(_) => {
                sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS (SELECT 1 FROM projection_progress WHERE projection = $1)",
                )
                .bind(projection.name())
                .fetch_one(&self.pool)
                .await?
            }
            Projection::Redis(_) => {
                let epoch = self.key_space(projection.name()).key("epoch");
                redis::cmd("EXISTS")
                    .arg(&epoch)
                    .query_async::<bool>(&mut self.redis())
                    .await?
            }
        })
    }

    async fn clear(&self, projection: &Projection, token: &str) -> Result<(), RuntimeError> {
        let name = projection.name();
        let mut tx = self.pool.begin().await?;
        match projection {
            Projection::Postgres(model) => {
                for table in model.tables() {
                    sqlx::query(&format!("TRUNCATE {}", quote_table(table)))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Projection::Redis(_) => {
                let keys = self.key_space(name);
                let rebuilding = keys.key("rebuilding");
                let mut redis = self.redis();
                redis::cmd("DEL")
                    .arg(keys.key("epoch"))
                    .query_async::<()>(&mut redis)
                    .await?;
                let all = self.redis_keys(name).await?;
                for chunk in all.chunks(500) {
                    redis::cmd("DEL")
                        .arg(chunk)
                        .query_async::<()>(&mut redis)
                        .await?;
                }
                // Gone again if Redis loses its data before the rebuild is done (module docs).
                redis::cmd("SET")
                    .arg(&rebuilding)
                    .arg(token)
                    .query_async::<()>(&mut redis)
                    .await?;
            }
        }
        for table in [
            "projection_versions",
            "parked_events",
            "projection_progress",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE projection = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_built(&self, projection: &Projection, token: &str) -> Result<(), RuntimeError> {
        if let Projection::Redis(_) = projection {
            let keys = self.key_space(projection.name());
            let marked: bool = redis::Script::new(MARK_BUILT)
                .key(keys.key("rebuilding"))
                .key(keys.key("epoch"))
                .arg(token)
                .arg(chrono::Utc::now().to_rfc3339())
                .invoke_async(&mut self.redis())
                .await?;
            if !marked {
                return Err(RuntimeError::ReadModelLost {
                    projection: projection.name().to_owned(),
                });
            }
        }
        sqlx::query(
            "INSERT INTO projection_progress (projection) VALUES ($1) \
             ON CONFLICT (projection) DO UPDATE SET updated_at = now()",
        )
        .bind(projection.name())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every key under the base of projection `name`, via SCAN (never KEYS).
    pub(super) async fn redis_keys(&self, name: &str) -> Result<Vec<String>, RuntimeError> {
        let pattern = format!("{}:*", escape_glob(self.key_space(name).base()));
        let mut redis = self.redis();
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await?;
            keys.extend(page);
            if next == 0 {
                keys.sort();
                keys.dedup();
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// `schema.table` or `table`, each part quoted as an identifier.
pub(super) fn quote_table(table: &str) -> String {
    table
        .split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
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
