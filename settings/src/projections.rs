//! `[projections]`: the projection workers (`APP_PROJECTIONS__…`).

use serde::{Deserialize, Serialize};

/// The projection workers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ProjectionSettings {
    /// Consumer group of projection `p` is `<group_prefix>-<p>`.
    pub group_prefix: String,
    /// Redis keys of projection `p` start with `<redis_prefix>:<p>:`.
    pub redis_prefix: String,
    /// Tries of one event before it is parked (and its stream stopped behind it).
    pub max_attempts: u32,
    /// Pause between two tries of one event.
    pub retry_delay_ms: u64,
    /// `host:port` of the `/metrics` endpoint; empty for none.
    pub metrics_listen: String,
    /// Most messages of one queue applied in one atomic write (one transaction / one script).
    /// A batch is what the queue has ready, up to this size: no waiting to fill it.
    pub batch_size: u32,
    /// How often each read model's markers are compared with the log (and a Redis model's epoch
    /// checked), repairing what a store lost; 0 turns the check off.
    pub reconcile_interval_ms: u64,
    /// Events younger than this may still be on their way through the broker: the comparison
    /// leaves them out.
    pub reconcile_grace_ms: u64,
    /// Events of `$all` read per page by a replay or verify (at most 10 000); each page is
    /// applied to the new generation in one atomic write.
    pub replay_page: u32,
    /// How long a retired generation is kept for `replay --rollback` before it is dropped.
    pub keep_retired_minutes: u64,
    /// `host:port` where `commerce-projections replay|verify` serves its progress as metrics
    /// (`projection_replay_*`) while it runs; empty for none.
    pub replay_metrics_listen: String,
}

impl Default for ProjectionSettings {
    fn default() -> Self {
        Self {
            group_prefix: "commerce-projection".to_owned(),
            redis_prefix: "rm".to_owned(),
            max_attempts: 5,
            retry_delay_ms: 100,
            metrics_listen: "127.0.0.1:9465".to_owned(),
            batch_size: 64,
            reconcile_interval_ms: 30_000,
            reconcile_grace_ms: 10_000,
            replay_page: 5_000,
            keep_retired_minutes: 60,
            replay_metrics_listen: "127.0.0.1:9468".to_owned(),
        }
    }
}
