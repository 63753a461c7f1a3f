//! `[query]`: the gRPC query services (`APP_QUERY__…`).

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::SettingsError;

/// Where the query services listen, their cache, and how long they wait for a consistency
/// token.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct QuerySettings {
    /// Address of the gRPC services; `--listen` beats it.
    pub listen: SocketAddr,
    /// `host:port` of the `/metrics` and `/healthz` endpoint; empty for none.
    pub metrics_listen: String,
    /// Entries per read model's cache.
    pub cache_capacity: u64,
    /// How long a cached answer may be served without asking the read model again.
    pub cache_ttl_ms: u64,
    /// Longest wait for a consistency token before answering `not_yet_consistent` (at most
    /// 30 000). The HTTP gateway's `query_timeout_ms` must exceed it.
    pub consistency_wait_ms: u64,
    /// Largest accepted request message, in bytes.
    pub max_request_bytes: usize,
}

impl Default for QuerySettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], Self::DEFAULT_PORT)),
            metrics_listen: "127.0.0.1:9466".to_owned(),
            cache_capacity: 10_000,
            cache_ttl_ms: 1_000,
            consistency_wait_ms: 2_000,
            max_request_bytes: 16 * 1024,
        }
    }
}

impl QuerySettings {
    /// The port of the query services unless told otherwise.
    pub const DEFAULT_PORT: u16 = 50060;

    /// Longest wait for a consistency token.
    pub fn consistency_wait(&self) -> Duration {
        Duration::from_millis(self.consistency_wait_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.consistency_wait_ms > 30_000 {
            return Err(SettingsError::rejected(
                "query.consistency_wait_ms",
                "at most 30000",
            ));
        }
        Ok(())
    }
}
