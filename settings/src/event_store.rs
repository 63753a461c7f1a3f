//! `[event_store]`: limits and tuning of the event log (`APP_EVENT_STORE__…`).

use serde::{Deserialize, Serialize};

/// Limits and tuning of the event log.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EventStoreSettings {
    /// Largest accepted event (data plus metadata, serialized JSON bytes).
    pub max_event_bytes: usize,
    /// Events fetched per `$all` tailer round trip.
    pub tail_batch_size: u32,
    /// Longest a live tailer waits without a notification before it polls anyway (a rolled-back
    /// append notifies nobody).
    pub tail_fallback_poll_ms: u64,
}

impl Default for EventStoreSettings {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            tail_batch_size: 512,
            tail_fallback_poll_ms: 250,
        }
    }
}
