//! Building and running the server: the [`App`] that `main` and the tests start alike.
//!
//! Every process serves `grpc.health.v1.Health` and server reflection (v1 and v1alpha) without a
//! token ([`server::grpc`]), and its own context's services behind the bearer-token interceptor,
//! with a request size limit.

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
pub use server::StartupError;
use server::{GrpcServices, grpc::HealthReporter};
use tokio::net::TcpListener;
use tonic::{
    service::interceptor::InterceptedService,
    transport::{
        Server,
        server::{Router, TcpIncoming},
    },
};

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
        let (listener, address) = server::listener::bind(config.listen).await?;
        let server = Server::builder()
            .timeout(REQUEST_TIMEOUT)
            .trace_fn(server::grpc::request_span);
        let (router, health) = context_services(&config, store)?
            .into_router(server, &[proto::FILE_DESCRIPTOR_SET])
            .await?;
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
        self.run_until(server::shutdown::signal()).await
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

/// The services of `config.service`'s context, behind the bearer-token interceptor.
fn context_services(
    config: &CommandConfig,
    store: EventStore,
) -> Result<GrpcServices, StartupError> {
    let auth = Authenticator::new(&config.auth);
    let limit = config.max_request_bytes;
    let attempts = config.max_attempts;
    let services = GrpcServices::default();
    let services = match config.service {
        ServiceKind::Customer => {
            let handler = CommandHandler::<Customer>::new(store, attempts);
            let service = CustomerCommandsServer::new(CustomerService::new(handler))
                .max_decoding_message_size(limit);
            services.add_service(InterceptedService::new(service, auth))
        }
        ServiceKind::Product => {
            let handler = CommandHandler::<Product>::new(store, attempts);
            let commands = ProductCommandsServer::new(ProductService::new(handler.clone()))
                .max_decoding_message_size(limit);
            let stock = ProductStockServer::new(ProductStockService::new(handler))
                .max_decoding_message_size(limit);
            services
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
            services.add_service(InterceptedService::new(service, auth))
        }
        ServiceKind::Order => {
            let service = OrderCommandsServer::new(OrderService::new(
                CommandHandler::<Order>::new(store.clone(), attempts),
                CommandHandler::<Cart>::new(store, attempts),
            ))
            .max_decoding_message_size(limit);
            services.add_service(InterceptedService::new(service, auth))
        }
        ServiceKind::Payment => {
            let service = PaymentCommandsServer::new(PaymentService::new(
                CommandHandler::<Payment>::new(store.clone(), attempts),
                CommandHandler::<Order>::new(store, attempts),
            ))
            .max_decoding_message_size(limit);
            services.add_service(InterceptedService::new(service, auth))
        }
    };
    Ok(services)
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
