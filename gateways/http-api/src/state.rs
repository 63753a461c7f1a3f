//! What every handler shares: the token checker, the clients of the query services and the
//! deadlines; and the one way a handler calls a query service.

use std::{future::Future, time::Duration};

use auth::Authenticator;
use proto::query::{
    cart_queries_client::CartQueriesClient, catalog_queries_client::CatalogQueriesClient,
    customer_queries_client::CustomerQueriesClient, order_queries_client::OrderQueriesClient,
    payment_queries_client::PaymentQueriesClient,
};
use proto::query::checkout_queries_client::CheckoutQueriesClient;
use tonic::{
    Response, Status,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::health_client::HealthClient;

use crate::{config::HttpConfig, error::ApiError};

/// The handlers' shared state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Checks bearer tokens (the same secret and issuer as the query services).
    pub auth: Authenticator,
    /// The clients of the query services, made once.
    pub query: QueryClients,
    /// Deadline of each gRPC call, connecting included.
    pub query_timeout: Duration,
    /// Longest a whole HTTP request may take.
    pub request_timeout: Duration,
}

/// A client of each query service and of the health service, all on one channel: the five
/// query services answer on the same endpoint. A handler calls on a clone (`&mut self` calls):
/// a clone shares the channel, so it costs a few reference counts, not a connection.
#[derive(Clone)]
pub struct QueryClients {
    /// `CatalogQueries`.
    pub catalog: CatalogQueriesClient<Channel>,
    /// `CustomerQueries`.
    pub customers: CustomerQueriesClient<Channel>,
    /// `CartQueries`.
    pub carts: CartQueriesClient<Channel>,
    /// `OrderQueries`.
    pub orders: OrderQueriesClient<Channel>,
    /// `PaymentQueries`.
    pub payments: PaymentQueriesClient<Channel>,
    /// `CheckoutQueries`.
    pub checkouts: CheckoutQueriesClient<Channel>,
    /// `grpc.health.v1.Health` of the query service.
    pub health: HealthClient<Channel>,
}

impl QueryClients {
    /// The clients over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            catalog: CatalogQueriesClient::new(channel.clone()),
            customers: CustomerQueriesClient::new(channel.clone()),
            carts: CartQueriesClient::new(channel.clone()),
            orders: OrderQueriesClient::new(channel.clone()),
            payments: PaymentQueriesClient::new(channel.clone()),
            checkouts: CheckoutQueriesClient::new(channel.clone()),
            health: HealthClient::new(channel),
        }
    }
}

impl AppState {
    /// The state for `config`, with a lazily connecting channel: the gateway starts (and
    /// `/readyz` says 503) while the query service is down, and reconnects by itself.
    pub fn new(config: &HttpConfig) -> Result<Self, tonic::transport::Error> {
        let query = Endpoint::from_shared(config.query_endpoint.clone())?
            .connect_timeout(config.query_timeout)
            .connect_lazy();
        Ok(Self::with_channel(config, query))
    }

    /// The state for `config` over an existing channel.
    pub fn with_channel(config: &HttpConfig, query: Channel) -> Self {
        Self {
            auth: Authenticator::new(&config.auth),
            query: QueryClients::new(query),
            query_timeout: config.query_timeout,
            request_timeout: config.request_timeout(),
        }
    }

    /// Awaits a gRPC call, at most [`AppState::query_timeout`] (so connecting and waiting for
    /// the channel count too), and maps its failure to an [`ApiError`].
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.query_timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(status.into()),
            Err(_elapsed) => Err(ApiError::Timeout(format!(
                "no answer within {} ms",
                self.query_timeout.as_millis()
            ))),
        }
    }
}
