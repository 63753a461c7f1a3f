//! Building and running the server: the [`App`] that `main` and the tests start alike.

use std::{future::Future, net::SocketAddr};

use axum::Router;
pub use server::StartupError;
use tokio::net::TcpListener;

use crate::{config::HttpConfig, routes::router, state::AppState};

/// A bound, ready-to-run HTTP gateway.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
}

impl App {
    /// Binds `config.listen` and builds the routes over lazily connecting channels to
    /// `config.query_endpoint` and the webhook's payment endpoint (either service may start
    /// later).
    pub async fn build(config: HttpConfig) -> Result<Self, StartupError> {
        let state = AppState::new(&config)?;
        let (listener, address) = server::listener::bind(config.listen).await?;
        tracing::info!(
            %address,
            query_endpoint = %config.query_endpoint,
            payment_endpoint = %config.webhook.payment_endpoint,
            "http gateway bound"
        );
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
        self.run_until(server::shutdown::signal()).await
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
