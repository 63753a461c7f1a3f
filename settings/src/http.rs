//! `[http]`: the HTTP read API in front of the query services (`APP_HTTP__…`).

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{SettingsError, http_endpoint, query::QuerySettings};

/// Where the HTTP gateway listens and how it reaches the query services.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Address to listen on; `--listen` beats it.
    pub listen: SocketAddr,
    /// The query services' gRPC endpoint, `http://host:port`.
    pub query_endpoint: String,
    /// Deadline of each call to the query services; must exceed their consistency wait
    /// (`query.consistency_wait_ms`), or every such wait would end as a timeout.
    pub query_timeout_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            query_endpoint: "http://127.0.0.1:50060".to_owned(),
            query_timeout_ms: 5_000,
        }
    }
}

impl HttpSettings {
    /// Deadline of each call to the query services.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.query_timeout_ms)
    }

    pub(crate) fn validate(&self, query: &QuerySettings) -> Result<(), SettingsError> {
        http_endpoint("http.query_endpoint", &self.query_endpoint)?;
        if self.query_timeout_ms <= query.consistency_wait_ms {
            return Err(SettingsError::rejected(
                "http.query_timeout_ms",
                format!(
                    "must exceed the query services' consistency wait of {} ms",
                    query.consistency_wait_ms
                ),
            ));
        }
        Ok(())
    }
}
