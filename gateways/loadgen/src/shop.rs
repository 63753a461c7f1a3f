//! The shop as a client sees it: the gRPC command services and the HTTP read API, with bearer
//! tokens signed like the processes check them. Every call has a deadline, is counted, and every
//! acknowledged command is written down.

use std::{future::Future, sync::Arc, time::Duration};

use auth::{AuthConfig, Claims, ROLE_ADMIN, ROLE_CUSTOMER, issue_token};
use proto::{
    cart::cart_commands_client::CartCommandsClient, common::CommandResult,
    customer::customer_commands_client::CustomerCommandsClient,
    order::order_commands_client::OrderCommandsClient,
    product::product_commands_client::ProductCommandsClient,
};
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde_json::Value;
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use uuid::Uuid;

use crate::{
    LoadConfig, LoadError,
    error::{ErrorKind, Failure},
    recorder::Recorder,
    report::Acknowledged,
};

/// How long the tokens minted for a run live: longer than any run.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Clients of the shop's APIs.
pub struct Shop {
    /// `commerce.customer.v1.CustomerCommands`.
    pub customers: CustomerCommandsClient<Channel>,
    /// `commerce.product.v1.ProductCommands`.
    pub products: ProductCommandsClient<Channel>,
    /// `commerce.cart.v1.CartCommands`.
    pub carts: CartCommandsClient<Channel>,
    /// `commerce.order.v1.OrderCommands`.
    pub orders: OrderCommandsClient<Channel>,
    http: reqwest::Client,
    base: String,
    auth: AuthConfig,
    timeout: Duration,
    /// The run's tally.
    pub recorder: Arc<Recorder>,
}

impl Shop {
    /// Clients of `config`'s endpoints (connected on first use).
    pub fn new(config: &LoadConfig, recorder: Arc<Recorder>) -> Result<Self, LoadError> {
        let channel = |endpoint: &str| {
            Endpoint::from_shared(endpoint.to_owned())
                .map(|endpoint| {
                    endpoint
                        .connect_timeout(config.request_timeout)
                        .tcp_nodelay(true)
                        .connect_lazy()
                })
                .map_err(|_| LoadError::Endpoint {
                    endpoint: endpoint.to_owned(),
                })
        };
        let endpoints = &config.endpoints;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|_| LoadError::Endpoint {
                endpoint: endpoints.http.clone(),
            })?;
        reqwest::Url::parse(&endpoints.http).map_err(|_| LoadError::Endpoint {
            endpoint: endpoints.http.clone(),
        })?;
        Ok(Self {
            customers: CustomerCommandsClient::new(channel(&endpoints.customer)?),
            products: ProductCommandsClient::new(channel(&endpoints.product)?),
            carts: CartCommandsClient::new(channel(&endpoints.cart)?),
            orders: OrderCommandsClient::new(channel(&endpoints.order)?),
            http,
            base: format!("{}/api/v1", endpoints.http.trim_end_matches('/')),
            auth: config.auth.clone(),
            timeout: config.request_timeout,
            recorder,
        })
    }

    /// A token of customer `customer`.
    pub fn customer_token(&self, customer: Uuid) -> String {
        self.token(&customer.to_string(), ROLE_CUSTOMER)
    }

    /// A token of the operator who sets the catalogue up.
    pub fn admin_token(&self) -> String {
        self.token("load-generator", ROLE_ADMIN)
    }

    fn token(&self, subject: &str, role: &str) -> String {
        issue_token(
            &self.auth,
            &Claims::new(subject, &[role], &self.auth.issuer, TOKEN_TTL),
        )
    }

    /// Sends command `command` (the rpc's name, for the report) with `command_id` in `message`
    /// as the holder of `token`; on OK writes it down as acknowledged and returns its result.
    pub async fn send<M, F, Fut>(
        &self,
        command: &'static str,
        command_id: Uuid,
        token: &str,
        message: M,
        call: F,
    ) -> Result<CommandResult, Failure>
    where
        F: FnOnce(Request<M>) -> Fut,
        Fut: Future<Output = Result<Option<CommandResult>, Status>>,
    {
        let mut request = Request::new(message);
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .expect("a JWT is ASCII and so is its header value");
        request.metadata_mut().insert("authorization", bearer);
        self.recorder.request();
        let answer = tokio::time::timeout(self.timeout, call(request))
            .await
            .map_err(|_| Failure::new(ErrorKind::Timeout, "grpc request timed out"))?;
        let result = answer
            .map_err(|status| Failure::from_status(&status))?
            .ok_or_else(|| Failure::new(ErrorKind::Protocol, "a command reply without a result"))?;
        self.recorder.acknowledged(Acknowledged {
            command,
            command_id,
            stream_id: result.stream_id.clone(),
            version: result.version,
            position: result.position,
        });
        Ok(result)
    }

    /// `GET /api/v1<path>` as the holder of `token`, with `X-Consistency-Token: <consistency>`
    /// when given; the JSON body of a 2xx answer, else the failure (HTTP status, and the error
    /// body's `code: message` as reason).
    pub async fn get(
        &self,
        path: &str,
        token: &str,
        consistency: Option<&str>,
    ) -> Result<Value, Failure> {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            format!("Bearer {token}")
                .parse()
                .expect("a JWT is a valid header value"),
        );
        if let Some(consistency) = consistency {
            headers.insert(
                "x-consistency-token",
                consistency
                    .parse()
                    .expect("a stream id and version are a valid header value"),
            );
        }
        self.recorder.request();
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .headers(headers)
            .send()
            .await
            .map_err(|error| Failure::from_http(&error))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| Failure::from_http(&error))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            if body.is_null() {
                return Err(Failure::new(
                    ErrorKind::Protocol,
                    "a 2xx answer that is not JSON",
                ));
            }
            return Ok(body);
        }
        let error = &body["error"];
        let reason = format!(
            "{}: {}",
            error["code"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("")
        );
        Err(Failure::new(ErrorKind::Http(status.as_u16()), &reason))
    }
}

/// Whether `failure` is the HTTP API's `503 not_yet_consistent` (a read that carried a
/// consistency token the read model did not reach in time: the write happened, ask again).
pub fn not_yet_consistent(failure: &Failure) -> bool {
    failure.kind == ErrorKind::Http(503) && failure.reason.starts_with("not_yet_consistent")
}
