//! Building and running the server: the [`App`] that `main` and the tests start alike.
//!
//! Every process serves `grpc.health.v1.Health` and server reflection (v1) without a token, and
//! its own context's services behind the bearer-token interceptor, with a request size limit.

use std::{future::Future, net::SocketAddr, time::Duration};

use aggregates::{Cart, Customer, Order, Payment, Product};
use event_store::EventStore;
use proto::{
    cart::cart_commands_server::CartCommandsServer,
    customer::customer_commands_server::CustomerCommandsServer,
    order::order_commands_server::OrderCommandsServer,
    payment::payment_commands_server::PaymentCommandsServer,
    product::{
        product_commands_server::ProductCommandsServer, product_stock_server::ProductStockServer,
    },
};
use tokio::net::TcpListener;
use tonic::{
    server::NamedService,
    service::interceptor::InterceptedService,
    transport::{
        Server,
        server::{Router, TcpIncoming},
    },
};
use tonic_health::server::HealthReporter;
use tonic_reflection::server::Builder as ReflectionBuilder;

use crate::{
    auth::Authenticator,
    clients::ProductClient,
    config::{CommandConfig, ServiceKind},
    handler::CommandHandler,
    services::{
        cart::CartService,
        customer::CustomerService,
        order::OrderService,
        payment::PaymentService,
        product::{ProductService, ProductStockService},
    },
};

/// Longest a single request may run before the server answers `CANCELLED`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// The database settings are unusable.
    #[error("invalid database settings: {0}")]
    Database(#[from] sqlx::Error),
    /// The reflection service could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The endpoint of a service this one calls is unusable.
    #[error("invalid endpoint {endpoint}: {source}")]
    Endpoint {
        /// The configured endpoint.
        endpoint: String,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// A bound, ready-to-run command server.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    _health: HealthReporter,
}

impl App {
    /// Binds `config.listen` and builds the services of `config.service` over a lazily
    /// connecting pool from `config.settings`.
    pub async fn build(config: CommandConfig) -> Result<Self, StartupError> {
        let pool = event_store::connect_lazy(&config.settings.database)?;
        let store = EventStore::new(pool, config.settings.event_store.clone());
        Self::build_with_store(config, store).await
    }

    /// As [`App::build`], over an existing event store (tests pass their own database's).
    pub async fn build_with_store(
        config: CommandConfig,
        store: EventStore,
    ) -> Result<Self, StartupError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: config.listen,
            source,
        })?;
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut names = vec![health_service_name()];

        let router = Server::builder()
            .timeout(REQUEST_TIMEOUT)
            .trace_fn(request_span)
            .add_service(health_service);
        let router = add_context_services(&config, store, router, &mut names, &health).await?;
        // Both reflection versions: grpcurl asks for v1, many clients (grpc-requests, older
        // tooling) only speak v1alpha.
        let router = router
            .add_service(reflection(&names).build_v1()?)
            .add_service(reflection(&names).build_v1alpha()?);
        tracing::info!(service = %config.service, %address, "command service bound");
        Ok(Self {
            listener,
            address,
            router,
            _health: health,
        })
    }

    /// The bound address (with the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> Result<(), tonic::transport::Error> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops accepting connections and drains in-flight
    /// requests (tests stop a server this way to take a dependency down).
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        self.router
            .serve_with_incoming_shutdown(TcpIncoming::from(self.listener), stop)
            .await
    }
}

/// A reflection service describing our contracts and health, listing the services `names`.
fn reflection(names: &[&'static str]) -> ReflectionBuilder<'static> {
    names.iter().fold(
        ReflectionBuilder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
        |builder, name| builder.with_service_name(*name),
    )
}

/// Adds the services of `config.service`'s context to `router` behind the bearer-token
/// interceptor, adds their names to `names` (for reflection) and reports them serving.
async fn add_context_services(
    config: &CommandConfig,
    store: EventStore,
    router: Router,
    names: &mut Vec<&'static str>,
    health: &HealthReporter,
) -> Result<Router, StartupError> {
    let auth = Authenticator::new(&config.auth);
    let limit = config.max_request_bytes;
    let attempts = config.max_attempts;
    let router = match config.service {
        ServiceKind::Customer => {
            let handler = CommandHandler::<Customer>::new(store, attempts);
            let service = CustomerCommandsServer::new(CustomerService::new(handler))
                .max_decoding_message_size(limit);
            names.push(name_of(&service));
            health
                .set_serving::<CustomerCommandsServer<CustomerService>>()
                .await;
            router.add_service(InterceptedService::new(service, auth))
        }
        ServiceKind::Product => {
            let handler = CommandHandler::<Product>::new(store, attempts);
            let commands = ProductCommandsServer::new(ProductService::new(handler.clone()))
                .max_decoding_message_size(limit);
            let stock = ProductStockServer::new(ProductStockService::new(handler))
                .max_decoding_message_size(limit);
            names.extend([name_of(&commands), name_of(&stock)]);
            health
                .set_serving::<ProductCommandsServer<ProductService>>()
                .await;
            health
                .set_serving::<ProductStockServer<ProductStockService>>()
                .await;
            router
                .add_service(InterceptedService::new(commands, auth.clone()))
                .add_service(InterceptedService::new(stock, auth))
        }
        ServiceKind::Cart => {
            let products = product_client(config)?;
            let service = CartCommandsServer::new(CartService::new(
                CommandHandler::<Cart>::new(store, attempts),
                products,
            ))
            .max_decoding_message_size(limit);
            names.push(name_of(&service));
            health
                .set_serving::<CartCommandsServer<CartService>>()
                .await;
            router.add_service(InterceptedService::new(service, auth))
        }
        ServiceKind::Order => {
            let service = OrderCommandsServer::new(OrderService::new(
                CommandHandler::<Order>::new(store.clone(), attempts),
                CommandHandler::<Cart>::new(store, attempts),
            ))
            .max_decoding_message_size(limit);
            names.push(name_of(&service));
            health
                .set_serving::<OrderCommandsServer<OrderService>>()
                .await;
            router.add_service(InterceptedService::new(service, auth))
        }
        ServiceKind::Payment => {
            let service = PaymentCommandsServer::new(PaymentService::new(
                CommandHandler::<Payment>::new(store.clone(), attempts),
                CommandHandler::<Order>::new(store, attempts),
            ))
            .max_decoding_message_size(limit);
            names.push(name_of(&service));
            health
                .set_serving::<PaymentCommandsServer<PaymentService>>()
                .await;
            router.add_service(InterceptedService::new(service, auth))
        }
    };
    Ok(router)
}

/// The cart's client of the product service.
fn product_client(config: &CommandConfig) -> Result<ProductClient, StartupError> {
    ProductClient::new(&config.dependencies, &config.auth, "cart").map_err(|source| {
        StartupError::Endpoint {
            endpoint: config.dependencies.product_endpoint.clone(),
            source,
        }
    })
}

fn name_of<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

fn health_service_name() -> &'static str {
    <tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService> as NamedService>::NAME
}

/// The root span of every request, with its correlation id when the client sent one.
fn request_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    let correlation_id = request
        .headers()
        .get(crate::request::CORRELATION_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("grpc", path = %request.uri().path(), correlation_id)
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
