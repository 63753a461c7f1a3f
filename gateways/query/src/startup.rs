//! Building and running the server: the [`App`] that `main` and the tests start alike.
//!
//! The process serves `grpc.health.v1.Health` and server reflection (v1 and v1alpha) without a
//! token ([`server::grpc`]), the six query services and `AuditQueries` behind the bearer-token
//! interceptor with a request size limit, and (unless disabled) `/metrics` + `/healthz` over HTTP.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use auth::Authenticator;
use proto::audit::audit_queries_server::AuditQueriesServer;
use proto::query::{
    cart_queries_server::CartQueriesServer, catalog_queries_server::CatalogQueriesServer,
    checkout_queries_server::CheckoutQueriesServer, customer_queries_server::CustomerQueriesServer,
    order_queries_server::OrderQueriesServer, payment_queries_server::PaymentQueriesServer,
};
use redis::aio::ConnectionManager;
pub use server::StartupError;
use server::{GrpcServices, MetricsServer, Registry, grpc::HealthReporter};
use settings::ExposeSecret;
use tokio::net::TcpListener;
use tonic::{
    service::interceptor::InterceptedService,
    transport::{
        Server,
        server::{Router, TcpIncoming},
    },
};

use crate::{
    cache::CacheMetrics,
    config::QueryConfig,
    consistency::ConsistencyMetrics,
    services::{Limits, QueryServices, QueryState},
};

/// Longest a query may take, consistency wait included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound, ready-to-run query server.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    metrics: Option<MetricsServer>,
    cache_metrics: CacheMetrics,
    consistency_metrics: ConsistencyMetrics,
    _health: HealthReporter,
}

impl App {
    /// Connects the stores, binds the address and assembles the services.
    pub async fn build(config: QueryConfig) -> Result<Self, StartupError> {
        let (listener, address) = server::listener::bind(config.listen).await?;
        let pool = event_store::connect_lazy(&config.settings.database)?;
        let client = redis::Client::open(config.settings.redis.url.expose_secret())?;
        let redis = ConnectionManager::new(client).await?;

        let cache_metrics = CacheMetrics::default();
        let consistency_metrics = ConsistencyMetrics::default();
        let mut registry = Registry::default();
        cache_metrics.register(&mut registry);
        consistency_metrics.register(&mut registry);
        let metrics = match &config.metrics_listen {
            Some(listen) => Some(
                MetricsServer::start(listen, Arc::new(registry))
                    .await
                    .map_err(|source| StartupError::Bind {
                        address: listen.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        let state = QueryState::new(
            pool,
            redis,
            config.settings.projections.redis_prefix.clone(),
            Limits {
                cache_capacity: config.cache_capacity,
                cache_ttl: config.cache_ttl,
                consistency_wait: config.consistency_wait,
                stuck_after: config.settings.checkout.stuck_after(),
            },
            cache_metrics.clone(),
            consistency_metrics.clone(),
        );
        let services = QueryServices::new(state);
        let auth = Authenticator::new(&config.auth);
        let limit = config.max_request_bytes;

        let catalog = CatalogQueriesServer::new(services.clone()).max_decoding_message_size(limit);
        let customers =
            CustomerQueriesServer::new(services.clone()).max_decoding_message_size(limit);
        let carts = CartQueriesServer::new(services.clone()).max_decoding_message_size(limit);
        let orders = OrderQueriesServer::new(services.clone()).max_decoding_message_size(limit);
        let payments = PaymentQueriesServer::new(services.clone()).max_decoding_message_size(limit);
        let checkouts =
            CheckoutQueriesServer::new(services.clone()).max_decoding_message_size(limit);
        let audit = AuditQueriesServer::new(services).max_decoding_message_size(limit);
        let server = Server::builder()
            .timeout(REQUEST_TIMEOUT)
            .trace_fn(server::grpc::request_span);
        let (router, health) = GrpcServices::default()
            .add_service(InterceptedService::new(catalog, auth.clone()))
            .add_service(InterceptedService::new(customers, auth.clone()))
            .add_service(InterceptedService::new(carts, auth.clone()))
            .add_service(InterceptedService::new(orders, auth.clone()))
            .add_service(InterceptedService::new(payments, auth.clone()))
            .add_service(InterceptedService::new(checkouts, auth.clone()))
            .add_service(InterceptedService::new(audit, auth))
            .into_router(server, &[proto::FILE_DESCRIPTOR_SET])
            .await?;
        tracing::info!(%address, "query service bound");
        Ok(Self {
            listener,
            address,
            router,
            metrics,
            cache_metrics,
            consistency_metrics,
            _health: health,
        })
    }

    /// The gRPC address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The metrics endpoint's address, if one was started.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|server| server.local_addr)
    }

    /// The cache counters, for tests.
    pub fn cache_metrics(&self) -> CacheMetrics {
        self.cache_metrics.clone()
    }

    /// The consistency-wait gauge (also served on `/metrics`), for tests.
    pub fn consistency_metrics(&self) -> ConsistencyMetrics {
        self.consistency_metrics.clone()
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> Result<(), tonic::transport::Error> {
        self.run_until(server::shutdown::signal()).await
    }

    /// Serves until `stop` completes, then drains in-flight calls.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        let result = self
            .router
            .serve_with_incoming_shutdown(TcpIncoming::from(self.listener), stop)
            .await;
        if let Some(metrics) = self.metrics {
            metrics.stop();
        }
        result
    }
}
