//! The client runtime every producer and consumer of a process shares, and its shutdown.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, TelemetryHandle};
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner, ShutdownReport};

use crate::error::GatewayError;

/// Where the broker is and how long set-up steps may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerClientConfig {
    /// Name server address(es), `host:port`, several separated by `;`.
    pub name_server: String,
    /// The broker cluster topics are created in.
    pub cluster: String,
    /// How long [`BrokerClient::create_topic`] waits for the new route to reach the name server.
    pub route_timeout: Duration,
    /// The client instance name consumers register under (see
    /// [`BrokerClientConfig::with_instance_name`]); `None`: a new one per process start.
    pub instance_name: Option<String>,
}

impl BrokerClientConfig {
    /// Settings for a name server, with the default cluster (`DefaultCluster`) and a 30 s route
    /// timeout.
    pub fn new(name_server: impl Into<String>) -> Self {
        Self {
            name_server: name_server.into(),
            cluster: "DefaultCluster".to_owned(),
            route_timeout: Duration::from_secs(30),
            instance_name: None,
        }
    }

    /// Consumers register under `name` (blank: a new name per process start). The broker keys
    /// an orderly consumer's queue locks by `ip@name`, so a process restarted under the name it
    /// had takes its queues back at once, where a new name waits for the dead process's locks
    /// to expire. Two live processes of one consumer group must never share a name.
    pub fn with_instance_name(mut self, name: &str) -> Self {
        let name = name.trim();
        self.instance_name = (!name.is_empty()).then(|| name.to_owned());
        self
    }
}

/// Owns the Tokio runtime the RocketMQ client runs on and builds producers and consumers on it.
///
/// Build one per process. Producers and consumers made from it borrow its runtime: shut them
/// down first, then call [`BrokerClient::shutdown`]. Dropping it without `shutdown` stops the
/// runtime in the background and logs a warning.
pub struct BrokerClient {
    pub(crate) config: BrokerClientConfig,
    // Declared before `owner` so an unshut client drops the client runtime before the Tokio
    // runtime that drives it.
    pub(crate) client_runtime: Arc<ClientRuntime>,
    owner: RuntimeOwner,
}

impl fmt::Debug for BrokerClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("BrokerClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BrokerClient {
    /// Builds the client runtime. Nothing connects yet: the first producer, consumer or topic
    /// call does.
    ///
    /// Telemetry is the client's no-op handle: the client's `tracing` events still reach the
    /// application's subscriber, and we do not let a library install global telemetry.
    pub fn new(config: BrokerClientConfig) -> Result<Self, GatewayError> {
        let owner = RuntimeOwner::plan(runtime_config()?)
            .map_err(GatewayError::RuntimeConfig)?
            .build()
            .map_err(GatewayError::RuntimeBuild)?;
        let client_runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .map_err(GatewayError::client("create client runtime"))?;
        Ok(Self {
            config,
            client_runtime,
            owner,
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &BrokerClientConfig {
        &self.config
    }

    /// The client runtime, to build RocketMQ facades this crate does not wrap (batch sends,
    /// admin calls). Shut such facades down before [`BrokerClient::shutdown`].
    pub fn client_runtime(&self) -> Arc<ClientRuntime> {
        Arc::clone(&self.client_runtime)
    }

    /// Stops the client runtime (every pooled client connection and task), then the tasks and
    /// the Tokio runtime it ran on, in that order.
    ///
    /// All steps run even if one is unclean; the first unclean report is returned.
    pub async fn shutdown(self) -> Result<(), GatewayError> {
        let Self {
            client_runtime,
            owner,
            ..
        } = self;
        let client = client_runtime.shutdown().await;
        drop(client_runtime);
        let tasks = owner.shutdown_tasks().await;
        let background = owner.shutdown_background();
        check("client runtime", client)
            .and(check("runtime tasks", tasks))
            .and(check("runtime", background))
    }
}

/// Handlers that may run at once in one process: one per consumed queue, with room to spare
/// (the projection workers consume about ten topics of 8 queues each). Threads are made on
/// demand and end when idle.
pub const HANDLER_SLOTS: usize = 128;

/// How long a handler may run before the client gives up on it. The client then counts the
/// batch as failed and offers it again while the first call still runs, so two calls would
/// handle one queue at once: the limit is far beyond any handler's own timeouts (database
/// statements, gRPC deadlines), never a bound a slow handler could reach.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(3600);

/// The client's Tokio runtime, with its metadata I/O lane sized for our handlers.
///
/// The client runs every consumer's handler on the blocking lane it also uses for its own
/// metadata I/O (queue locks, offsets, routes), sized by default for that I/O alone: twice the
/// CPU count (4 slots on 2 cores), a 5 s wait for a slot, a 30 s limit per call. Slow handlers on
/// more queues than slots then starved each other and the client's lock renewals: after a
/// broker restart the checkout process manager's backlog on 8 queues made batch after batch
/// wait for a slot, time out, and go back to wait again, and purchases stayed unstarted for
/// minutes (`tests/slow_handlers.rs`, docs/faults.md).
fn runtime_config() -> Result<RuntimeConfig, GatewayError> {
    let config = RuntimeConfig {
        thread_name: "rocketmq-client".to_owned(),
        ..RuntimeConfig::default()
    };
    let others = config.blocking_lane_policies.storage_io.max_concurrency
        + config.blocking_lane_policies.cpu_crypto.max_concurrency;
    let mut config = config
        .with_max_blocking_threads(HANDLER_SLOTS + others)
        .map_err(GatewayError::RuntimeConfig)?;
    let lane = &mut config.blocking_lane_policies.metadata_io;
    lane.max_concurrency = HANDLER_SLOTS;
    lane.max_queue_depth = lane.max_queue_depth.max(4 * HANDLER_SLOTS);
    lane.queue_timeout = Duration::from_secs(60);
    lane.task_timeout = HANDLER_TIMEOUT;
    // A handler taking seconds is normal (a checkout drives a purchase through the services).
    lane.warn_after = Duration::from_secs(30);
    config.validate().map_err(GatewayError::RuntimeConfig)?;
    Ok(config)
}

fn check(stage: &'static str, report: ShutdownReport) -> Result<(), GatewayError> {
    if report.is_healthy() {
        Ok(())
    } else {
        Err(GatewayError::UncleanShutdown {
            stage,
            report: report.to_json(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::BrokerClientConfig;

    #[test]
    fn a_blank_instance_name_leaves_the_client_its_own_name_per_start() {
        let config = BrokerClientConfig::new("127.0.0.1:9876");
        assert_eq!(config.instance_name, None);
        assert_eq!(config.clone().with_instance_name("  ").instance_name, None);
        assert_eq!(
            config.with_instance_name(" projections-0 ").instance_name,
            Some("projections-0".to_owned())
        );
    }
}
