//! The relay's Prometheus metrics, served on `relay.metrics_listen`.

use server::{Counter, Gauge, Registry};

/// Handles to every relay metric; clones share the values.
#[derive(Debug, Clone, Default)]
pub struct RelayMetrics {
    /// Events acknowledged by the broker (`relay_published_events_total`).
    pub published_events: Counter,
    /// Batches (one queue's send each) acknowledged by the broker (`relay_batches_total`).
    pub batches: Counter,
    /// Failed publish attempts (a send to one queue, or preparing an event), each followed by a
    /// retry (`relay_send_failures_total`).
    pub send_failures: Counter,
    /// 1 while this replica holds the leadership lock and publishes, else 0 (`relay_active`).
    pub active: Gauge,
    /// Global position of the stored checkpoint (`relay_checkpoint_position`).
    pub checkpoint_position: Gauge,
    /// Failed checkpoint writes, each retried while publishing goes on
    /// (`relay_checkpoint_write_failures_total`).
    pub checkpoint_write_failures: Counter,
    /// Highest position in the log minus the position of the acknowledged prefix's end
    /// (`relay_lag_positions`).
    pub lag_positions: Gauge,
    /// Age of the acknowledged prefix's last event when it became acknowledged; 0 when caught up
    /// (`relay_lag_ms`).
    pub lag_ms: Gauge,
    /// How long a long-running transaction has held the tailer back; 0 when not held back
    /// (`relay_held_back_ms`).
    pub held_back_ms: Gauge,
    /// 1 while this replica holds the lock but refuses to publish because the checkpoint was
    /// written in another PostgreSQL cluster (`relay_log_epoch_mismatch`; docs/restore-safety.md).
    pub log_epoch_mismatch: Gauge,
    /// 0 while this replica refuses to publish (see `log_epoch_mismatch`), else 1
    /// (`relay_healthy`). A standby is healthy.
    pub healthy: Gauge,
}

impl RelayMetrics {
    /// Registers every metric in `registry` under the `relay_` names above.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "relay_published_events",
            "Events acknowledged by the broker",
            self.published_events.clone(),
        );
        registry.register(
            "relay_batches",
            "Batches acknowledged by the broker",
            self.batches.clone(),
        );
        registry.register(
            "relay_send_failures",
            "Failed publish attempts (each is retried)",
            self.send_failures.clone(),
        );
        registry.register(
            "relay_active",
            "1 while this replica holds the leadership lock",
            self.active.clone(),
        );
        registry.register(
            "relay_checkpoint_position",
            "Global position of the stored checkpoint",
            self.checkpoint_position.clone(),
        );
        registry.register(
            "relay_checkpoint_write_failures",
            "Failed checkpoint writes (each is retried; publishing goes on)",
            self.checkpoint_write_failures.clone(),
        );
        registry.register(
            "relay_lag_positions",
            "Highest log position minus the checkpoint position",
            self.lag_positions.clone(),
        );
        registry.register(
            "relay_lag_ms",
            "Age of the acknowledged prefix's last event when acknowledged; 0 when caught up",
            self.lag_ms.clone(),
        );
        registry.register(
            "relay_held_back_ms",
            "How long a running transaction has held the tailer back",
            self.held_back_ms.clone(),
        );
        registry.register(
            "relay_log_epoch_mismatch",
            "1 while refusing to publish: the checkpoint was written in another PostgreSQL cluster",
            self.log_epoch_mismatch.clone(),
        );
        registry.register(
            "relay_healthy",
            "0 while refusing to publish (see relay_log_epoch_mismatch), else 1",
            self.healthy.clone(),
        );
    }
}
