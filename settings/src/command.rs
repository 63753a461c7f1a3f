//! `[command]`: the gRPC command services, one bounded context per process (`APP_COMMAND__…`).

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{SettingsError, http_endpoint};

/// Limits of a command service and where the services it calls live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CommandSettings {
    /// Address to listen on; unset: `127.0.0.1` and the service's own port (customer 50051,
    /// product 50052, cart 50053, order 50054, payment 50055). `--listen` beats it.
    pub listen: Option<SocketAddr>,
    /// Largest accepted request message, in bytes; larger ones are refused with `OUT_OF_RANGE`.
    pub max_request_bytes: usize,
    /// Attempts of load → decide → append before a command gives up with `ABORTED` (at least 1).
    pub max_attempts: u32,
    /// The product service's gRPC endpoint, `http://host:port` (the cart asks it for stock; in a
    /// cluster the mesh adds mTLS, so plain HTTP/2 is all a process speaks).
    pub product_endpoint: String,
    /// Deadline of each call to another service, connecting included; past it the command fails
    /// with `UNAVAILABLE` and changes nothing. Positive.
    pub dependency_timeout_ms: u64,
}

impl Default for CommandSettings {
    fn default() -> Self {
        Self {
            listen: None,
            max_request_bytes: 64 * 1024,
            max_attempts: 5,
            product_endpoint: "http://127.0.0.1:50052".to_owned(),
            dependency_timeout_ms: 2_000,
        }
    }
}

impl CommandSettings {
    /// Deadline of each call to another service.
    pub fn dependency_timeout(&self) -> Duration {
        Duration::from_millis(self.dependency_timeout_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        http_endpoint("command.product_endpoint", &self.product_endpoint)?;
        if self.dependency_timeout_ms == 0 {
            return Err(SettingsError::rejected(
                "command.dependency_timeout_ms",
                "must be positive",
            ));
        }
        Ok(())
    }
}
