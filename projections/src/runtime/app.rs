//! The projection worker process, in-process: the binary's `run` and the tests start the same
//! [`ProjectionApp`].
//!
//! Start order: rebuild what needs it (never built here, or Redis lost its epoch) *before* that
//! projection's consumer starts; create the topics; start one consumer per projection; serve
//! metrics; refresh lag and progress periodically, and compare each model with the log
//! (`reconcile.rs`). Stop order: consumers (they persist offsets
//! and unlock their queues, so another worker takes over at once), broker client, background
//! tasks.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rocketmq::{BrokerClient, BrokerClientConfig, EventTopics, OrderlyConsumer};
use server::{MetricsServer, Registry};
use settings::Settings;
use tokio::task::JoinHandle;

use super::{ProjectionMetrics, ProjectionRuntime, RuntimeError, start_consumers};
use crate::Projection;

/// How often lag gauges and progress rows are refreshed.
const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// A running projection worker.
pub struct ProjectionApp {
    runtime: Arc<ProjectionRuntime>,
    broker: BrokerClient,
    consumers: Vec<OrderlyConsumer>,
    metrics_server: Option<MetricsServer>,
    refresher: JoinHandle<()>,
}

impl ProjectionApp {
    /// Connects with `settings` and starts `projections` (see the module docs).
    pub async fn build(
        settings: &Settings,
        projections: Vec<Projection>,
    ) -> Result<Self, RuntimeError> {
        let mut registry = Registry::default();
        let metrics = ProjectionMetrics::register(&mut registry);
        let runtime = Arc::new(ProjectionRuntime::connect(settings, metrics).await?);
        Self::start(runtime, registry, settings, projections).await
    }

    /// Starts `projections` on an existing runtime (tests bring their own database and Redis
    /// prefix). Uses `settings.rocketmq` (name server, topic prefix, queue count) and
    /// `settings.projections` (group prefix, metrics address: empty for none). `registry` should
    /// hold the runtime's metrics.
    pub async fn start(
        runtime: Arc<ProjectionRuntime>,
        registry: Registry,
        settings: &Settings,
        projections: Vec<Projection>,
    ) -> Result<Self, RuntimeError> {
        for projection in &projections {
            if let Some(report) = runtime.ensure_built(projection).await? {
                tracing::info!(
                    projection = projection.name(),
                    events = report.events,
                    "rebuilt at start"
                );
            }
        }
        let broker = BrokerClient::new(
            BrokerClientConfig::new(&settings.rocketmq.name_server)
                .with_instance_name(&settings.rocketmq.instance_name),
        )?;
        let topics = EventTopics::new(&settings.rocketmq.topic_prefix);
        let categories: BTreeSet<&str> = projections
            .iter()
            .flat_map(|projection| projection.categories().iter().copied())
            .collect();
        for category in categories {
            broker
                .create_topic(&topics.topic(category), settings.rocketmq.queues)
                .await?;
        }
        let consumers = start_consumers(
            &runtime,
            &broker,
            &topics,
            &settings.projections.group_prefix,
            settings.projections.batch_size,
            &projections,
        )
        .await?;
        let metrics_server =
            MetricsServer::start_unless_empty(&settings.projections.metrics_listen, registry)
                .await
                .map_err(RuntimeError::Metrics)?;
        let checks = Checks {
            interval: Duration::from_millis(settings.projections.reconcile_interval_ms),
            grace: Duration::from_millis(settings.projections.reconcile_grace_ms),
        };
        let refresher = tokio::spawn(refresh(Arc::clone(&runtime), projections, checks));
        Ok(Self {
            runtime,
            broker,
            consumers,
            metrics_server,
            refresher,
        })
    }

    /// The runtime the consumers apply through (for snapshots and operator actions).
    pub fn runtime(&self) -> &Arc<ProjectionRuntime> {
        &self.runtime
    }

    /// Where `/metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|server| server.local_addr)
    }

    /// Runs until SIGTERM or ctrl-c, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> Result<(), RuntimeError> {
        server::shutdown::signal().await;
        tracing::info!("stopping");
        self.shutdown().await
    }

    /// Stops the consumers (persisting offsets, unlocking queues), the broker client and the
    /// background tasks.
    pub async fn shutdown(self) -> Result<(), RuntimeError> {
        for consumer in self.consumers {
            consumer.shutdown().await;
        }
        let stopped = self.broker.shutdown().await;
        self.refresher.abort();
        if let Some(server) = self.metrics_server {
            server.stop();
        }
        Ok(stopped?)
    }
}

/// How often the stores are compared with the log (`reconcile.rs`); zero: never.
#[derive(Debug, Clone, Copy)]
struct Checks {
    interval: Duration,
    grace: Duration,
}

/// Refreshes lag and progress every [`REFRESH_INTERVAL`], and compares each model with the log
/// every `checks.interval`.
async fn refresh(runtime: Arc<ProjectionRuntime>, projections: Vec<Projection>, checks: Checks) {
    let mut lag_ticks = tokio::time::interval(REFRESH_INTERVAL);
    let mut check_ticks = tokio::time::interval(checks.interval.max(Duration::from_millis(10)));
    // The first check happens one interval after start: the start itself rebuilt what was lost.
    check_ticks.reset();
    loop {
        tokio::select! {
            _ = lag_ticks.tick() => {
                if let Err(error) = runtime.metrics().refresh(runtime.pool(), &projections).await {
                    tracing::warn!(%error, "could not refresh projection lag");
                }
            }
            _ = check_ticks.tick(), if !checks.interval.is_zero() => {
                for projection in &projections {
                    match runtime.reconcile(projection, checks.grace).await {
                        Ok(report) if report.rebuilt || report.repaired_streams > 0 => {
                            tracing::warn!(projection = projection.name(), ?report, "repaired from the log");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(projection = projection.name(), %error, "could not compare with the log"),
                    }
                }
            }
        }
    }
}
