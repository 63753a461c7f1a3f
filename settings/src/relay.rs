//! `[relay]`: the relay process, `$all` → RocketMQ (`APP_RELAY__…`).

use serde::{Deserialize, Serialize};

/// The relay: `$all` → RocketMQ.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RelaySettings {
    /// Name of the checkpoint row and of the leadership lock; relays with one name are replicas
    /// of each other (exactly one publishes).
    pub name: String,
    /// RocketMQ producer group.
    pub producer_group: String,
    /// Most events per published batch.
    pub batch_size: usize,
    /// Most body bytes per batch sent to one queue (the broker refuses more than 4 MiB).
    pub max_batch_bytes: usize,
    /// First pause between retries while the broker refuses or is down.
    pub retry_initial_ms: u64,
    /// Longest such pause: the pauses grow from `retry_initial_ms` up to it.
    pub retry_max_ms: u64,
    /// How often a standby replica tries to take over.
    pub standby_poll_ms: u64,
    /// `host:port` of the `/metrics` endpoint; empty for none.
    pub metrics_listen: String,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            name: "main".to_owned(),
            producer_group: "commerce-relay".to_owned(),
            batch_size: 256,
            max_batch_bytes: 2 * 1024 * 1024,
            retry_initial_ms: 100,
            retry_max_ms: 5_000,
            standby_poll_ms: 500,
            metrics_listen: "127.0.0.1:9464".to_owned(),
        }
    }
}
