//! The metrics endpoint of a process (query services, relay, projections): `GET /metrics` in the
//! Prometheus text format and `GET /healthz` for probes.
//!
//! Metrics are [`prometheus_client`] types registered in a [`Registry`] the process fills at
//! start-up; they are plain atomics, cheap to update on every event.

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
pub use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::{net::TcpListener, task::JoinHandle};

/// A running metrics endpoint. Dropping it leaves the server running; [`MetricsServer::stop`]
/// stops it.
#[derive(Debug)]
pub struct MetricsServer {
    /// The address it listens on (useful with port 0).
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `listen` (`host:port`) and serves `registry` until stopped.
    pub async fn start(listen: &str, registry: Arc<Registry>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok\n" }))
            .with_state(registry);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "metrics endpoint stopped");
            }
        });
        tracing::info!(%local_addr, "metrics endpoint listening");
        Ok(Self { local_addr, task })
    }

    /// As [`MetricsServer::start`], but serves nothing and returns `None` when `listen` is empty
    /// (the setting that turns the endpoint off).
    pub async fn start_unless_empty(
        listen: &str,
        registry: Registry,
    ) -> std::io::Result<Option<Self>> {
        if listen.is_empty() {
            return Ok(None);
        }
        Self::start(listen, Arc::new(registry)).await.map(Some)
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn metrics(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut body = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut body, &registry);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metrics_are_served_in_text_format() {
        let mut registry = Registry::default();
        let events: Counter = Counter::default();
        registry.register("relay_published_events", "events published", events.clone());
        events.inc_by(3);
        let server = MetricsServer::start("127.0.0.1:0", Arc::new(registry))
            .await
            .unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.local_addr)
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains("relay_published_events_total 3"),
            "{response}"
        );
        server.stop();
    }

    #[tokio::test]
    async fn an_empty_address_serves_no_metrics() {
        let server = MetricsServer::start_unless_empty("", Registry::default())
            .await
            .unwrap();
        assert!(server.is_none());
    }
}
