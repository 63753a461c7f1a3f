//! What every handler shares: the token checker, the clients of the query services and the
//! deadlines; and the one way a handler calls a query service. The payment provider's webhook
//! has its own part, [`WebhookState`].

use std::{future::Future, sync::Arc, time::Duration};

use auth::Authenticator;
use proto::audit::audit_queries_client::AuditQueriesClient;
use proto::payment::payment_commands_client::PaymentCommandsClient;
use proto::query::checkout_queries_client::CheckoutQueriesClient;
use proto::query::{
    cart_queries_client::CartQueriesClient, catalog_queries_client::CatalogQueriesClient,
    customer_queries_client::CustomerQueriesClient, order_queries_client::OrderQueriesClient,
    payment_queries_client::PaymentQueriesClient,
};
use settings::SecretString;
use tonic::{
    Response, Status,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::health_client::HealthClient;

use crate::{
    config::HttpConfig, error::ApiError, service_token::ServiceToken, startup::StartupError,
};

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
    /// What the payment provider's webhook needs.
    pub webhook: WebhookState,
}

/// What the payment provider's webhook needs: the secrets a callback may be signed with, the
/// tolerance of its timestamp, and a client of the payment service with the token to call it.
#[derive(Clone)]
pub struct WebhookState {
    /// Every valid signing secret.
    pub secrets: Arc<[SecretString]>,
    /// How far a callback's timestamp may be from now.
    pub tolerance: Duration,
    /// `PaymentCommands`, on a lazily connecting channel of its own.
    pub payments: PaymentCommandsClient<Channel>,
    /// The service token the calls carry.
    pub token: ServiceToken,
}

/// A client of each query service, of the audit service and of the health service, all on one
/// channel: the query process serves them all on the same endpoint. A handler calls on a clone (`&mut self` calls):
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
    /// `commerce.audit.v1.AuditQueries` (admins only).
    pub audit: AuditQueriesClient<Channel>,
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
            audit: AuditQueriesClient::new(channel.clone()),
            health: HealthClient::new(channel),
        }
    }
}

impl AppState {
    /// The state for `config`, with lazily connecting channels: the gateway starts (and
    /// `/readyz` says 503) while the query service is down, the webhook answers 503 while the
    /// payment service is, and both reconnect by themselves.
    pub fn new(config: &HttpConfig) -> Result<Self, StartupError> {
        let lazy = |endpoint: &String| {
            Endpoint::from_shared(endpoint.clone())
                .map(|endpoint| {
                    endpoint
                        .connect_timeout(config.query_timeout)
                        .connect_lazy()
                })
                .map_err(|source| StartupError::Endpoint {
                    endpoint: endpoint.clone(),
                    source,
                })
        };
        let query = lazy(&config.query_endpoint)?;
        let payments = lazy(&config.webhook.payment_endpoint)?;
        Ok(Self::with_channels(config, query, payments))
    }

    /// The state for `config` over existing channels to the query and payment services.
    pub fn with_channels(config: &HttpConfig, query: Channel, payments: Channel) -> Self {
        Self {
            auth: Authenticator::new(&config.auth),
            query: QueryClients::new(query),
            query_timeout: config.query_timeout,
            request_timeout: config.request_timeout(),
            webhook: WebhookState {
                secrets: config.webhook.secrets.clone().into(),
                tolerance: config.webhook.tolerance,
                payments: PaymentCommandsClient::new(payments),
                token: ServiceToken::new(config.auth.clone()),
            },
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
