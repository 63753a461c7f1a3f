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
}

impl BrokerClientConfig {
    /// Settings for a name server, with the default cluster (`DefaultCluster`) and a 30 s route
    /// timeout.
    pub fn new(name_server: impl Into<String>) -> Self {
        Self {
            name_server: name_server.into(),
            cluster: "DefaultCluster".to_owned(),
            route_timeout: Duration::from_secs(30),
        }
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
        let owner = RuntimeOwner::plan(RuntimeConfig {
            thread_name: "rocketmq-client".to_owned(),
            ..RuntimeConfig::default()
        })
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
