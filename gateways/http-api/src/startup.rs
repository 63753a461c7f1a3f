//! Building and running the server: the [`App`] that `main` and the tests start alike.

use std::{future::Future, net::SocketAddr};

use axum::Router;
use tokio::net::TcpListener;

use crate::{config::HttpConfig, routes::router, state::AppState};

/// Why the server could not start. Fatal.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The query endpoint is unusable.
    #[error("invalid query endpoint {endpoint}: {source}")]
    Endpoint {
        /// The configured endpoint.
        endpoint: String,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// A bound, ready-to-run HTTP gateway.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
}

impl App {
    /// Binds `config.listen` and builds the routes over a lazily connecting channel to
    /// `config.query_endpoint` (the query service may start later).
    pub async fn build(config: HttpConfig) -> Result<Self, StartupError> {
        let state = AppState::new(&config).map_err(|source| StartupError::Endpoint {
            endpoint: config.query_endpoint.clone(),
            source,
        })?;
        let bind_error = |source| StartupError::Bind {
            address: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        tracing::info!(%address, query_endpoint = %config.query_endpoint, "http gateway bound");
        Ok(Self {
            listener,
            address,
            router: router(state),
        })
    }

    /// The bound address (with the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops accepting connections and drains in-flight
    /// requests.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    interrupt.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
    tracing::info!("shutting down");
}
