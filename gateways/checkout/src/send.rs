//! Sending one step: the gRPC command (or the provider call) a [`Step`] stands for, built from
//! the checkout's recorded state, with the step's deterministic command id.
//!
//! The answer is an [`Outcome`] (done, or refused by a rule) or a [`Transient`] failure (the
//! service or the provider is down, slow or overloaded): a transient failure is never recorded,
//! the step is sent again later with the same command id. A step's request is a function of the
//! recorded state alone, so every re-send is the very same request (the services compare
//! fingerprints, `docs/command-fingerprints.md`).

use std::time::Duration;

use aggregates::{
    checkout::{CheckoutDetails, Outcome, Refusal, Step},
    payment::PaymentMethod,
};
use auth::{AuthConfig, Claims, ROLE_SERVICE, issue_token};
use command::request::money_to_proto;
use proto::{
    cart::{ClearRequest, cart_commands_client::CartCommandsClient},
    customer::{
        DebitBalanceRequest, DepositBalanceRequest,
        customer_commands_client::CustomerCommandsClient,
    },
    order::{
        CancelRequest, MarkPaidRequest, MarkStockReservedRequest,
        order_commands_client::OrderCommandsClient,
    },
    payment::{
        CaptureRequest, FailRequest, InitiateRequest, PaymentMethod as WireMethod, RefundRequest,
        payment_commands_client::PaymentCommandsClient,
    },
    product::{
        CommitStockRequest, ReleaseStockRequest, ReserveStockRequest, ReturnStockRequest,
        StockLine, product_commands_client::ProductCommandsClient,
    },
};
use tonic::{
    Code, Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use uuid::Uuid;

/// The subject of the process manager's service tokens (the actor of what it sends).
pub const SUBJECT: &str = "checkout";
/// Lifetime of a minted token: one call, with room for clock skew.
const TOKEN_TTL: Duration = Duration::from_secs(60);

/// A step could not be answered now: send it again later.
#[derive(Debug, thiserror::Error)]
#[error("{service} did not answer {step}: {reason}")]
pub struct Transient {
    /// The service or `provider`.
    pub service: &'static str,
    /// The step's name.
    pub step: String,
    /// What went wrong.
    pub reason: String,
}

/// Sends `$request` with client `$client`'s method `$rpc` for `$call`, to `$service`.
macro_rules! rpc {
    ($call:expr, $service:literal, $client:expr, $rpc:ident, $request:expr) => {
        $call
            .grpc(
                $service,
                |request| {
                    let mut client = $client.clone();
                    async move { client.$rpc(request).await.map(drop) }
                },
                $request,
            )
            .await
    };
}

/// Clients of the five command services and of the payment provider. Cheap to clone; connects
/// lazily and reconnects by itself.
#[derive(Clone)]
pub struct Services {
    customer: CustomerCommandsClient<Channel>,
    product: ProductCommandsClient<Channel>,
    cart: CartCommandsClient<Channel>,
    order: OrderCommandsClient<Channel>,
    payment: PaymentCommandsClient<Channel>,
    provider: reqwest::Client,
    provider_url: String,
    auth: AuthConfig,
    timeout: Duration,
}

impl Services {
    /// Clients of the endpoints in `settings` (`[checkout]`, `payments.provider_url`),
    /// authenticating with service tokens signed by `settings.auth`. Does not connect yet.
    pub fn new(settings: &settings::Settings) -> Result<Self, tonic::transport::Error> {
        let checkout = &settings.checkout;
        let timeout = checkout.call_timeout();
        let channel = |url: &str| -> Result<Channel, tonic::transport::Error> {
            Ok(Endpoint::from_shared(url.to_owned())?
                .connect_timeout(timeout)
                .timeout(timeout)
                .connect_lazy())
        };
        Ok(Self {
            customer: CustomerCommandsClient::new(channel(&checkout.customer_endpoint)?),
            product: ProductCommandsClient::new(channel(&checkout.product_endpoint)?),
            cart: CartCommandsClient::new(channel(&checkout.cart_endpoint)?),
            order: OrderCommandsClient::new(channel(&checkout.order_endpoint)?),
            payment: PaymentCommandsClient::new(channel(&checkout.payment_endpoint)?),
            provider: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            provider_url: settings
                .payments
                .provider_url
                .trim_end_matches('/')
                .to_owned(),
            auth: settings.auth.clone(),
            timeout,
        })
    }

    /// Sends `step` of `checkout`, under `correlation_id`, and returns its answer.
    #[tracing::instrument(skip_all, fields(order_id = %checkout.order_id, step = %step.name()))]
    pub async fn send(
        &self,
        checkout: &CheckoutDetails,
        step: Step,
        correlation_id: Uuid,
    ) -> Result<Outcome, Transient> {
        let call = Call {
            services: self,
            step,
            command_id: step.command_id(checkout.order_id).to_string(),
            correlation_id,
        };
        let order_id = checkout.order_id.to_string();
        let customer_id = checkout.customer_id.to_string();
        let payment_id = checkout.payment_id.to_string();
        let amount = Some(money_to_proto(checkout.total));
        let reason = checkout.phase.reason().unwrap_or("checkout").to_owned();
        let command_id = call.command_id.clone();
        let stock = |product_id: aggregates::ProductId| {
            checkout
                .products
                .iter()
                .find(|p| p.product_id == product_id)
                .map(|p| {
                    p.items
                        .iter()
                        .map(|line| StockLine {
                            sku_id: line.sku_id.to_string(),
                            quantity: line.quantity,
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        match step {
            Step::Reserve { product_id } => {
                let request = ReserveStockRequest {
                    command_id,
                    product_id: product_id.to_string(),
                    reservation_id: order_id,
                    items: stock(product_id),
                };
                rpc!(call, "product", self.product, reserve_stock, request)
            }
            Step::Commit { product_id } => {
                let request = CommitStockRequest {
                    command_id,
                    product_id: product_id.to_string(),
                    reservation_id: order_id,
                };
                rpc!(call, "product", self.product, commit_stock, request)
            }
            Step::Release { product_id } => {
                let request = ReleaseStockRequest {
                    command_id,
                    product_id: product_id.to_string(),
                    reservation_id: order_id,
                };
                rpc!(call, "product", self.product, release_stock, request)
            }
            Step::Return { product_id } => {
                let request = ReturnStockRequest {
                    command_id,
                    product_id: product_id.to_string(),
                    reservation_id: order_id,
                };
                rpc!(call, "product", self.product, return_stock, request)
            }
            Step::ConfirmOrder => {
                let request = MarkStockReservedRequest {
                    command_id,
                    order_id,
                };
                rpc!(call, "order", self.order, mark_stock_reserved, request)
            }
            Step::MarkPaid => {
                let request = MarkPaidRequest {
                    command_id,
                    order_id,
                    payment_id,
                    amount,
                };
                rpc!(call, "order", self.order, mark_paid, request)
            }
            Step::CancelOrder => {
                let request = CancelRequest {
                    command_id,
                    order_id,
                    reason,
                };
                rpc!(call, "order", self.order, cancel, request)
            }
            Step::InitiatePayment => {
                let method = match checkout.method {
                    PaymentMethod::Balance => WireMethod::Balance,
                    PaymentMethod::External => WireMethod::External,
                };
                let request = InitiateRequest {
                    command_id,
                    payment_id,
                    order_id,
                    customer_id,
                    amount,
                    method: method.into(),
                };
                rpc!(call, "payment", self.payment, initiate, request)
            }
            Step::Capture => {
                let request = CaptureRequest {
                    command_id,
                    payment_id,
                    provider_reference: None,
                };
                rpc!(call, "payment", self.payment, capture, request)
            }
            Step::FailPayment => {
                let request = FailRequest {
                    command_id,
                    payment_id,
                    reason,
                };
                rpc!(call, "payment", self.payment, fail, request)
            }
            Step::RefundPayment => {
                let request = RefundRequest {
                    command_id,
                    payment_id,
                    amount,
                    reason,
                };
                rpc!(call, "payment", self.payment, refund, request)
            }
            Step::DebitBalance => {
                let request = DebitBalanceRequest {
                    command_id,
                    customer_id,
                    payment_id,
                    amount,
                };
                rpc!(call, "customer", self.customer, debit_balance, request)
            }
            Step::CreditBalance => {
                let request = DepositBalanceRequest {
                    command_id,
                    customer_id,
                    amount,
                };
                rpc!(call, "customer", self.customer, deposit_balance, request)
            }
            Step::ClearCart => {
                let request = ClearRequest {
                    command_id,
                    customer_id,
                };
                rpc!(call, "cart", self.cart, clear, request)
            }
            Step::Charge => {
                let body = serde_json::json!({
                    "payment_id": checkout.payment_id.0,
                    "order_id": checkout.order_id.0,
                    "amount_minor": checkout.total.amount_minor(),
                    "currency": checkout.total.currency().to_string(),
                });
                call.provider("/v1/charges", body).await
            }
            Step::ProviderRefund => {
                let body = serde_json::json!({
                    "payment_id": checkout.payment_id.0,
                    "charge_id": webhook::charge_id(checkout.payment_id.0),
                    "amount_minor": checkout.total.amount_minor(),
                    "currency": checkout.total.currency().to_string(),
                });
                call.provider("/v1/refunds", body).await
            }
        }
    }

    /// `message` with a fresh service token, the deadline and the correlation id.
    fn request<T>(&self, message: T, correlation_id: Uuid) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        let token = issue_token(
            &self.auth,
            &Claims::new(SUBJECT, &[ROLE_SERVICE], &self.auth.issuer, TOKEN_TTL),
        );
        let metadata = request.metadata_mut();
        if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
            metadata.insert("authorization", value);
        }
        if let Ok(value) = MetadataValue::try_from(correlation_id.to_string()) {
            metadata.insert(proto::contract::CORRELATION_ID, value);
        }
        request
    }
}

/// One step being sent.
struct Call<'a> {
    services: &'a Services,
    step: Step,
    command_id: String,
    correlation_id: Uuid,
}

impl Call<'_> {
    /// Sends `message` with `rpc` to `service` and classifies the answer.
    async fn grpc<T, F, Fut>(
        &self,
        service: &'static str,
        rpc: F,
        message: T,
    ) -> Result<Outcome, Transient>
    where
        F: FnOnce(Request<T>) -> Fut,
        Fut: Future<Output = Result<(), Status>>,
    {
        let request = self.services.request(message, self.correlation_id);
        let answer = tokio::time::timeout(self.services.timeout, rpc(request)).await;
        match answer {
            Err(_elapsed) => Err(self.transient(service, "no answer in time".to_owned())),
            Ok(Ok(())) => Ok(Outcome::Done),
            Ok(Err(status)) => classify(&status).ok_or_else(|| {
                self.transient(
                    service,
                    format!("{:?}: {}", status.code(), status.message()),
                )
            }),
        }
    }

    /// POSTs `body` to the provider's `path` with the step's command id as idempotency key.
    async fn provider(&self, path: &str, body: serde_json::Value) -> Result<Outcome, Transient> {
        let url = format!("{}{path}", self.services.provider_url);
        let sent = self
            .services
            .provider
            .post(url)
            .header("Idempotency-Key", &self.command_id)
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(self.transient("provider", error.to_string())),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(Outcome::Done);
        }
        let text = response.text().await.unwrap_or_default();
        if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
            return Ok(Outcome::Refused {
                kind: Refusal::Rejected,
                message: format!("provider answered {status}: {}", truncate(&text)),
            });
        }
        Err(self.transient("provider", format!("{status}: {}", truncate(&text))))
    }

    fn transient(&self, service: &'static str, reason: String) -> Transient {
        tracing::warn!(service, step = %self.step.name(), %reason, "step not answered; retried later");
        Transient {
            service,
            step: self.step.name(),
            reason,
        }
    }
}

/// The outcome a gRPC status stands for, or `None` for a failure worth retrying. Refusals are
/// answers about the request (a business rule, a malformed or unknown target); failures of the
/// call (unreachable, slow, overloaded, a lost race, a misconfigured token) are retried: a
/// misconfiguration must not cancel orders.
fn classify(status: &Status) -> Option<Outcome> {
    let kind = match status.code() {
        Code::AlreadyExists => Refusal::AlreadyExists,
        Code::FailedPrecondition | Code::NotFound | Code::InvalidArgument | Code::OutOfRange => {
            Refusal::Rejected
        }
        _ => return None,
    };
    Some(Outcome::Refused {
        kind,
        message: status.message().to_owned(),
    })
}

fn truncate(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(200)
        .map_or(text.len(), |(index, _)| index);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_answers_and_failures_are_retried() {
        let refused = |code| classify(&Status::new(code, "no"));
        assert!(matches!(
            refused(Code::AlreadyExists),
            Some(Outcome::Refused {
                kind: Refusal::AlreadyExists,
                ..
            })
        ));
        for code in [
            Code::FailedPrecondition,
            Code::NotFound,
            Code::InvalidArgument,
        ] {
            assert!(matches!(
                refused(code),
                Some(Outcome::Refused {
                    kind: Refusal::Rejected,
                    ..
                })
            ));
        }
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::ResourceExhausted,
            Code::Internal,
            Code::Unauthenticated,
            Code::PermissionDenied,
        ] {
            assert!(refused(code).is_none(), "{code:?} is retried");
        }
    }
}
