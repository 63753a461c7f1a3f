//! Building and running the simulator: the [`App`] that `main` and the tests start alike.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::Router;
use reqwest::Url;
use tokio::net::TcpListener;

use crate::{
    books::Books,
    config::ProviderConfig,
    delivery::{Courier, Tasks},
    routes::{Simulator, router},
};

/// Why the simulator could not start. Fatal: fix the configuration (or free the port).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The listen address is taken or not ours.
    #[error(transparent)]
    Startup(#[from] server::StartupError),
    /// `payments.simulator_webhook_url` is not a URL.
    #[error("invalid webhook URL {url}: {reason}")]
    WebhookUrl {
        /// As configured.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A bound, ready-to-run simulator.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    tasks: Tasks,
}

impl App {
    /// Binds `config.listen` and builds the routes; callbacks go to `config.webhook_url`.
    pub async fn build(config: ProviderConfig) -> Result<Self, BuildError> {
        let url = Url::parse(&config.webhook_url).map_err(|error| BuildError::WebhookUrl {
            url: config.webhook_url.clone(),
            reason: error.to_string(),
        })?;
        let books = Arc::new(Books::default());
        let courier = Courier::new(url, config.signing_secret, config.retry, books.clone())?;
        let tasks = Tasks::default();
        let simulator = Simulator {
            books,
            courier,
            tasks: tasks.clone(),
            default_delay: config.default_delay,
        };
        let (listener, address) = server::listener::bind(config.listen).await?;
        tracing::info!(%address, webhook_url = %config.webhook_url, "payment provider simulator bound");
        Ok(Self {
            listener,
            address,
            router: router(simulator),
            tasks,
        })
    }

    /// The bound address (with the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(server::shutdown::signal()).await
    }

    /// Serves until `stop` completes, drains in-flight requests, then aborts the outcomes still
    /// playing (their callbacks are not sent: the simulator keeps nothing across a restart).
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await;
        self.tasks.abort_all();
        served
    }
}
