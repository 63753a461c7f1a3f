//! The product service's `ProductStock.GetSkuAvailability`, as the cart needs it: a SKU's title,
//! price, sale status and available stock, answered from the product stream.

use std::time::Duration;

use aggregates::{DomainError, Money, ProductId, SkuId};
use proto::product::{GetSkuAvailabilityRequest, product_stock_client::ProductStockClient};
use tonic::{
    Code, Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use tracing::instrument;

use crate::{
    auth::{self, Claims, ROLE_SERVICE},
    config::{AuthConfig, DependencyConfig},
    error::AppError,
    handler::CommandContext,
    request::{self, CORRELATION_ID, TRACEPARENT},
};

/// The service named in errors.
const SERVICE: &str = "product";
/// Lifetime of a minted token: one call, with room for clock skew.
const TOKEN_TTL: Duration = Duration::from_secs(60);

/// What the product service says about a SKU right now. Advisory: stock is only held when an
/// order reserves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuFacts {
    /// The product's title.
    pub title: String,
    /// The SKU's current unit price.
    pub unit_price: Money,
    /// False once the SKU or its product is discontinued.
    pub on_sale: bool,
    /// Stock on hand minus reserved.
    pub available: u32,
}

/// A client of the product service. Cheap to clone; connects lazily and reconnects by itself,
/// so the product service may start after (or restart under) its callers.
#[derive(Clone)]
pub struct ProductClient {
    client: ProductStockClient<Channel>,
    auth: AuthConfig,
    subject: &'static str,
    timeout: Duration,
}

impl ProductClient {
    /// A client of `config.product_endpoint` with deadline `config.timeout`, authenticating as
    /// service `subject` (e.g. `cart`) with tokens signed by `auth`. Does not connect yet.
    pub fn new(
        config: &DependencyConfig,
        auth: &AuthConfig,
        subject: &'static str,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(config.product_endpoint.clone())?
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .connect_lazy();
        Ok(Self {
            client: ProductStockClient::new(channel),
            auth: auth.clone(),
            subject,
            timeout: config.timeout,
        })
    }

    /// The facts of SKU `sku_id` of product `product_id`. `NOT_FOUND` (a domain `NotFound` of
    /// the SKU) when the product or SKU does not exist; `DependencyUnavailable` when the product
    /// service cannot be reached, fails, or does not answer within the deadline.
    #[instrument(skip_all, fields(%product_id, %sku_id))]
    pub async fn sku(
        &self,
        context: &CommandContext,
        product_id: ProductId,
        sku_id: SkuId,
    ) -> Result<SkuFacts, AppError> {
        let request = self.request(
            context,
            GetSkuAvailabilityRequest {
                product_id: product_id.to_string(),
                sku_id: sku_id.to_string(),
            },
        );
        let mut client = self.client.clone();
        // The endpoint's timeout covers a call on an open connection; this one also covers
        // connecting and waiting for a connection slot, so no path waits longer.
        let answer =
            match tokio::time::timeout(self.timeout, client.get_sku_availability(request)).await {
                Err(_elapsed) => {
                    tracing::warn!(
                        timeout_ms = self.timeout.as_millis(),
                        "product service too slow"
                    );
                    return Err(self.timed_out());
                }
                Ok(Err(status)) => return Err(self.failed(status, sku_id)),
                Ok(Ok(response)) => response.into_inner(),
            };
        let unit_price = request::money("price", answer.price.as_ref()).map_err(|error| {
            AppError::Internal(format!("product service sent a malformed price: {error}"))
        })?;
        Ok(SkuFacts {
            title: answer.title,
            unit_price,
            on_sale: answer.on_sale,
            available: answer.available,
        })
    }

    /// `message` with a fresh service token, the deadline, and the command's correlation id and
    /// trace context.
    fn request<T>(&self, context: &CommandContext, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        let token = auth::issue_token(
            &self.auth,
            &Claims::new(self.subject, &[ROLE_SERVICE], &self.auth.issuer, TOKEN_TTL),
        );
        let metadata = request.metadata_mut();
        if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
            metadata.insert("authorization", value);
        }
        if let Ok(value) = MetadataValue::try_from(context.correlation_id.to_string()) {
            metadata.insert(CORRELATION_ID, value);
        }
        if let Some(value) = context
            .traceparent
            .as_deref()
            .and_then(|text| MetadataValue::try_from(text).ok())
        {
            metadata.insert(TRACEPARENT, value);
        }
        request
    }

    fn timed_out(&self) -> AppError {
        AppError::DependencyUnavailable {
            service: SERVICE,
            reason: format!("no answer within {} ms", self.timeout.as_millis()),
        }
    }

    /// The error for a call the product service answered with `status` (or that the transport
    /// failed with it).
    fn failed(&self, status: Status, sku_id: SkuId) -> AppError {
        let reason = match status.code() {
            Code::NotFound => {
                return DomainError::NotFound {
                    entity: "sku",
                    id: sku_id.to_string(),
                }
                .into();
            }
            // Our token or request was refused: a misconfiguration (different secrets or
            // issuers) or a bug here, not something the client can fix by retrying.
            Code::Unauthenticated
            | Code::PermissionDenied
            | Code::InvalidArgument
            | Code::Unimplemented
            | Code::OutOfRange => {
                return AppError::Internal(format!(
                    "product service refused the availability query: {status:?}"
                ));
            }
            Code::DeadlineExceeded | Code::Cancelled => return self.timed_out(),
            Code::Unavailable => "not reachable or not serving",
            Code::ResourceExhausted => "overloaded",
            _ => "it failed",
        };
        tracing::warn!(code = ?status.code(), message = status.message(), "product service call failed");
        AppError::DependencyUnavailable {
            service: SERVICE,
            reason: reason.to_owned(),
        }
    }
}
