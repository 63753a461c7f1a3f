//! Building and running the process manager: the event store, the clients of the services it
//! drives, one orderly consumer of the order and payment topics, the deadline poller and the
//! metrics endpoint.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use aggregates::{Aggregate, Order, Payment};
use event_store::EventStore;
use rocketmq::{
    BrokerClient, BrokerClientConfig, EventTopics, GatewayError, OrderlyConsumer,
    OrderlyConsumerConfig, ReceivedMessage,
};
use server::{MetricsServer, Registry};
use settings::Settings;
use tokio::task::JoinHandle;

use crate::{
    manager::{Manager, poll_deadlines},
    metrics::CheckoutMetrics,
    send::Services,
};

/// Most messages of one queue handled at once.
const BATCH_SIZE: u32 = 32;

/// Why the process manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Settings, database, an endpoint or the metrics address.
    #[error(transparent)]
    Server(#[from] server::StartupError),
    /// The broker.
    #[error("rocketmq: {0}")]
    Broker(#[from] GatewayError),
    /// The settings refuse to serve this stage (the development secret outside `local`).
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
}

/// A running process manager.
pub struct App {
    manager: Arc<Manager>,
    broker: BrokerClient,
    consumer: OrderlyConsumer,
    poller: JoinHandle<()>,
    metrics_server: Option<MetricsServer>,
}

impl App {
    /// Connects everything in `settings` and starts consuming and polling.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings.require_auth()?;
        let pool = event_store::connect_lazy(&settings.database)
            .map_err(server::StartupError::Database)?;
        let store = EventStore::new(pool, settings.event_store.clone());
        let services =
            Services::new(settings).map_err(|source| server::StartupError::Endpoint {
                endpoint: "checkout.*_endpoint".to_owned(),
                source,
            })?;
        let mut registry = Registry::default();
        let metrics = CheckoutMetrics::register(&mut registry);
        let manager = Arc::new(Manager::new(
            store,
            services,
            metrics,
            settings.checkout.clone(),
            settings.command.max_attempts,
        ));
        let broker = BrokerClient::new(
            BrokerClientConfig::new(&settings.rocketmq.name_server)
                .with_instance_name(&settings.rocketmq.instance_name),
        )?;
        let topics = EventTopics::new(&settings.rocketmq.topic_prefix);
        for category in [Order::CATEGORY, Payment::CATEGORY] {
            broker
                .create_topic(&topics.topic(category), settings.rocketmq.queues)
                .await?;
        }
        // All tags: events a checkout does not follow are skipped after decoding, so nothing
        // depends on the broker's tag filtering.
        let mut config = OrderlyConsumerConfig::for_topics(
            settings.checkout.consumer_group.clone(),
            [
                topics.topic(Order::CATEGORY),
                topics.topic(Payment::CATEGORY),
            ],
        );
        // Never hand a message to the broker's retry topic: that would break stream order.
        config.max_local_retries = i32::MAX.unsigned_abs();
        config.batch_size = BATCH_SIZE;
        config.retry_delay = Duration::from_millis(500);
        let app = tokio::runtime::Handle::current();
        let handler = Arc::clone(&manager);
        let consumer = broker
            .start_orderly_batch_consumer(config, move |messages: &[ReceivedMessage]| {
                app.block_on(handler.handle_messages(messages))
            })
            .await?;
        let poller = tokio::spawn(poll_deadlines(Arc::clone(&manager)));
        let metrics_server =
            MetricsServer::start_unless_empty(&settings.checkout.metrics_listen, registry)
                .await
                .map_err(|source| server::StartupError::Bind {
                    address: settings.checkout.metrics_listen.clone(),
                    source,
                })?;
        tracing::info!(group = %settings.checkout.consumer_group, "checkout process manager started");
        Ok(Self {
            manager,
            broker,
            consumer,
            poller,
            metrics_server,
        })
    }

    /// The manager (for tests and tools).
    pub fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }

    /// Where `/metrics` and `/healthz` are served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|server| server.local_addr)
    }

    /// Runs until SIGINT or SIGTERM, then shuts down.
    pub async fn run_until_stopped(self) -> Result<(), GatewayError> {
        server::shutdown::signal().await;
        tracing::info!("stopping");
        self.shutdown().await
    }

    /// Stops consuming and polling.
    pub async fn shutdown(self) -> Result<(), GatewayError> {
        self.poller.abort();
        self.consumer.shutdown().await;
        let stopped = self.broker.shutdown().await;
        if let Some(server) = self.metrics_server {
            server.stop();
        }
        stopped
    }
}
