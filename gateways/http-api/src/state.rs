//! What every handler shares: the token checker, the channel to the query services and the
//! deadlines; and the one way a handler calls a query service.

use std::{future::Future, time::Duration};

use auth::Authenticator;
use tonic::{
    Response, Status,
    transport::{Channel, Endpoint},
};

use crate::{config::HttpConfig, error::ApiError};

/// The handlers' shared state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Checks bearer tokens (the same secret and issuer as the query services).
    pub auth: Authenticator,
    /// The channel to the query services; all five answer on it.
    pub query: Channel,
    /// Deadline of each gRPC call, connecting included.
    pub query_timeout: Duration,
    /// Longest a whole HTTP request may take.
    pub request_timeout: Duration,
}

impl AppState {
    /// The state for `config`, with a lazily connecting channel: the gateway starts (and
    /// `/readyz` says 503) while the query service is down, and reconnects by itself.
    pub fn new(config: &HttpConfig) -> Result<Self, tonic::transport::Error> {
        let query = Endpoint::from_shared(config.query_endpoint.clone())?
            .connect_timeout(config.query_timeout)
            .connect_lazy();
        Ok(Self::with_channel(config, query))
    }

    /// The state for `config` over an existing channel.
    pub fn with_channel(config: &HttpConfig, query: Channel) -> Self {
        Self {
            auth: Authenticator::new(&config.auth),
            query,
            query_timeout: config.query_timeout,
            request_timeout: config.request_timeout(),
        }
    }

    /// Awaits a gRPC call, at most [`AppState::query_timeout`] (so connecting and waiting for
    /// the channel count too), and maps its failure to an [`ApiError`].
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.query_timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(status.into()),
            Err(_elapsed) => Err(ApiError::Timeout(format!(
                "no answer within {} ms",
                self.query_timeout.as_millis()
            ))),
        }
    }
}
