//! Per-projection metrics: what was applied, skipped and parked, and how far behind it is.
//!
//! Lag has two views: time (now − `recorded_at` of the last applied event, 0 once caught up) and
//! positions (the head of the projection's categories in the log − the last applied position),
//! the head read periodically by [`ProjectionMetrics::refresh`]. Positions of different streams
//! arrive out of order across queues, so both are approximations meant for dashboards and
//! alerts, not for consistency decisions (those use the per-stream markers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use prometheus_client::metrics::family::Family;
use server::{Counter, Gauge, Registry};
use sqlx::PgPool;

use super::Applied;
use crate::Projection;

type Labels = Vec<(String, String)>;

/// Position and `recorded_at` of the last event each projection applied.
type LastApplied = Arc<Mutex<HashMap<String, (u64, DateTime<Utc>)>>>;

/// The metric families, labelled by `projection`. Cheap to clone; clones share the values.
#[derive(Clone, Default)]
pub struct ProjectionMetrics {
    applied: Family<Labels, Counter>,
    duplicates: Family<Labels, Counter>,
    parked: Family<Labels, Counter>,
    repaired: Family<Labels, Counter>,
    lag_ms: Family<Labels, Gauge>,
    position: Family<Labels, Gauge>,
    lag_positions: Family<Labels, Gauge>,
    replay_position: Family<Labels, Gauge>,
    replay_head: Family<Labels, Gauge>,
    replay_events: Family<Labels, Gauge>,
    live_generation: Family<Labels, Gauge>,
    last: LastApplied,
}

fn labels(projection: &str) -> Labels {
    vec![("projection".to_owned(), projection.to_owned())]
}

fn clamp(value: i64) -> i64 {
    value.max(0)
}

impl ProjectionMetrics {
    /// New metrics, registered in `registry` under `projection_…`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let sub = registry.sub_registry_with_prefix("projection");
        sub.register("applied_events", "events applied", metrics.applied.clone());
        sub.register(
            "duplicates_skipped",
            "events skipped as already applied",
            metrics.duplicates.clone(),
        );
        sub.register("parked_events", "events parked", metrics.parked.clone());
        sub.register(
            "repaired_streams",
            "streams found behind the log by the periodic check and caught up (lost writes)",
            metrics.repaired.clone(),
        );
        sub.register(
            "lag_ms",
            "now minus recorded_at of the last applied event (0 when caught up)",
            metrics.lag_ms.clone(),
        );
        sub.register(
            "last_applied_position",
            "global position of the last applied event",
            metrics.position.clone(),
        );
        sub.register(
            "lag_positions",
            "log head of the projection's categories minus the last applied position",
            metrics.lag_positions.clone(),
        );
        sub.register(
            "replay_position",
            "position of $all a replay or verify of the projection has read up to",
            metrics.replay_position.clone(),
        );
        sub.register(
            "replay_head",
            "the log's last position when the running replay started (the goal of replay_position)",
            metrics.replay_head.clone(),
        );
        sub.register(
            "replay_events",
            "events of the projection's categories the running replay applied",
            metrics.replay_events.clone(),
        );
        sub.register(
            "live_generation",
            "the generation a replay in this process last switched the projection to",
            metrics.live_generation.clone(),
        );
        metrics
    }

    pub(super) fn record_replay_progress(&self, projection: &str, progress: &super::Progress) {
        let labels = labels(projection);
        let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.replay_position
            .get_or_create(&labels)
            .set(int(progress.position));
        self.replay_head
            .get_or_create(&labels)
            .set(int(progress.head));
        self.replay_events
            .get_or_create(&labels)
            .set(int(progress.events));
    }

    pub(super) fn record_replay(&self, projection: &str, generation: u32) {
        self.live_generation
            .get_or_create(&labels(projection))
            .set(i64::from(generation));
    }

    pub(super) fn record(&self, projection: &str, event: &RecordedEvent, applied: Applied) {
        let labels = labels(projection);
        match applied {
            Applied::Applied { filled } => {
                self.applied
                    .get_or_create(&labels)
                    .inc_by(filled as u64 + 1);
                let position = i64::try_from(event.position).unwrap_or(i64::MAX);
                self.position.get_or_create(&labels).set(position);
                let lag = (Utc::now() - event.recorded_at).num_milliseconds();
                self.lag_ms.get_or_create(&labels).set(clamp(lag));
                if let Ok(mut last) = self.last.lock() {
                    last.insert(projection.to_owned(), (event.position, event.recorded_at));
                }
            }
            Applied::Duplicate => {
                self.duplicates.get_or_create(&labels).inc();
            }
        }
    }

    pub(super) fn record_repaired(&self, projection: &str, streams: u64) {
        self.repaired
            .get_or_create(&labels(projection))
            .inc_by(streams);
    }

    /// Streams the periodic check repaired so far for `projection` (in this process).
    pub fn repaired(&self, projection: &str) -> u64 {
        self.repaired.get_or_create(&labels(projection)).get()
    }

    pub(super) fn record_parked(&self, projection: &str) {
        self.parked.get_or_create(&labels(projection)).inc();
    }

    /// Events applied so far by `projection` (in this process).
    pub fn applied(&self, projection: &str) -> u64 {
        self.applied.get_or_create(&labels(projection)).get()
    }

    /// Duplicates skipped so far by `projection`.
    pub fn duplicates(&self, projection: &str) -> u64 {
        self.duplicates.get_or_create(&labels(projection)).get()
    }

    /// Events parked so far by `projection`.
    pub fn parked(&self, projection: &str) -> u64 {
        self.parked.get_or_create(&labels(projection)).get()
    }

    /// Reads the log head of each projection's categories, updates the lag gauges, and stores
    /// the last applied event in `projection_progress` (only for projections built here).
    pub async fn refresh(
        &self,
        pool: &PgPool,
        projections: &[Projection],
    ) -> Result<(), sqlx::Error> {
        for projection in projections {
            let name = projection.name();
            let categories: Vec<String> = projection
                .categories()
                .iter()
                .map(|c| (*c).to_owned())
                .collect();
            let head: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(position), 0) FROM events WHERE category = ANY($1)",
            )
            .bind(&categories)
            .fetch_one(pool)
            .await?;
            let last = self
                .last
                .lock()
                .ok()
                .and_then(|last| last.get(name).copied());
            let labels = labels(name);
            let applied = last.map_or(0, |(position, _)| i64::try_from(position).unwrap_or(0));
            let behind = clamp(head - applied);
            self.lag_positions.get_or_create(&labels).set(behind);
            if let Some((position, recorded_at)) = last {
                let lag = if behind == 0 {
                    0
                } else {
                    (Utc::now() - recorded_at).num_milliseconds()
                };
                self.lag_ms.get_or_create(&labels).set(clamp(lag));
                sqlx::query(
                    "UPDATE projection_progress \
                     SET position = $2, recorded_at = $3, updated_at = now() WHERE projection = $1",
                )
                .bind(name)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(recorded_at)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }
}
