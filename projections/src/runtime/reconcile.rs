//! Noticing, while running, that a store lost writes, and repairing it without an operator
//! (docs/redis-read-model-loss.md).
//!
//! A Redis read model can lose data in two ways the consumer never hears about: all of it (a
//! restart without persistence, a flush, a failover to an empty replica: the epoch key goes with
//! it) or its last writes (a failover to an asynchronous replica that had not received them:
//! data *and* markers roll back together, so the model is consistent but behind, and the broker
//! has long acknowledged those messages). The apply script refuses to write into a model without
//! an epoch (`apply.rs`), which catches the first while events flow; this check catches both
//! when nothing flows, and the second always:
//!
//! 1. a model without its epoch is rebuilt (`replay.rs`: a new generation, switched in under
//!    its exclusive lease);
//! 2. every stream's marker is compared with the stream's last version in the log, leaving out
//!    events younger than a grace period (they may still be on their way through the broker)
//!    and stopped streams (a parked event holds them back on purpose). A stream whose marker is
//!    behind is repaired by applying its last version through the normal batch apply, which
//!    fills the versions in between from the log: effectively once, so a repair that races the
//!    consumer delivering the same events changes nothing twice.
//!
//! PostgreSQL models keep markers in the same database as the log and roll back with it: they
//! cannot lose writes the log kept, so they are not compared (that would be a grouped scan of
//! the log per model and interval that finds nothing). Cost for a Redis model: one grouped scan
//! of its categories in the log per run.

use std::time::Duration;

use event_store::{RecordedEvent, StreamId};
use tracing::instrument;

use super::{ProjectionRuntime, RuntimeError};
use crate::Projection;

/// Streams repaired per atomic write.
const REPAIR_BATCH: usize = 64;

/// What a check found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReconcileReport {
    /// The model had lost its data and was rebuilt.
    pub rebuilt: bool,
    /// Streams whose marker was behind the log and that were caught up.
    pub repaired_streams: usize,
}

impl ProjectionRuntime {
    /// Checks the Redis model `projection` against the log and repairs what it lost (module
    /// docs); a PostgreSQL model has nothing to check. Events recorded less than `grace` ago are
    /// left out of the comparison.
    #[instrument(skip_all, fields(projection = projection.name()))]
    pub async fn reconcile(
        &self,
        projection: &Projection,
        grace: Duration,
    ) -> Result<ReconcileReport, RuntimeError> {
        let mut report = ReconcileReport::default();
        let Projection::Redis(_) = projection else {
            return Ok(report);
        };
        if self.ensure_built(projection).await?.is_some() {
            report.rebuilt = true;
            return Ok(report);
        }
        let name = projection.name();
        let heads: Vec<(String, i64)> = sqlx::query_as(
            "SELECT stream_id, max(stream_version) FROM events \
             WHERE category = ANY($1) AND recorded_at < now() - make_interval(secs => $2) \
               AND stream_id NOT IN \
                 (SELECT stream_id FROM parked_events WHERE projection = $3) \
             GROUP BY stream_id",
        )
        .bind(projection.categories())
        .bind(grace.as_secs_f64())
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        // The live generation's markers, read without the lease: a switch meanwhile only makes
        // the repair apply duplicates.
        let live = self.live_generation_number(projection).await?;
        let markers = self.markers_of(projection, live, None).await?;
        let behind: Vec<(String, u64)> = heads
            .into_iter()
            .map(|(stream, head)| (stream, head as u64))
            .filter(|(stream, head)| markers.get(stream).is_none_or(|marker| marker < head))
            .collect();
        if behind.is_empty() {
            return Ok(report);
        }
        tracing::warn!(
            streams = behind.len(),
            "read model behind the log (lost writes?): repairing"
        );
        for chunk in behind.chunks(REPAIR_BATCH) {
            let mut conn = self.pool.acquire().await?;
            let mut last_versions: Vec<RecordedEvent> = Vec::with_capacity(chunk.len());
            for (stream, head) in chunk {
                let Ok(stream) = StreamId::parse(stream.clone()) else {
                    continue;
                };
                last_versions.extend(
                    event_store::read_stream_range(&mut conn, &stream, *head..*head + 1).await?,
                );
            }
            drop(conn);
            let batch: Vec<&RecordedEvent> = last_versions.iter().collect();
            self.apply_batch(projection, &batch).await?;
            report.repaired_streams += batch.len();
        }
        self.metrics
            .record_repaired(name, report.repaired_streams as u64);
        Ok(report)
    }
}
