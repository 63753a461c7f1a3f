//! The routes, one file per resource; each read handler checks who may read, validates its
//! parameters and asks one query service; the payment provider's webhook ([`webhooks`]) checks
//! the callback's signature and sends one payment command. [`api`] lists them, [`router`] adds
//! the middleware.
//!
//! | route | query | who |
//! |---|---|---|
//! | `GET /api/v1/products?limit=&cursor=&q=` | `CatalogQueries.ListProducts` | any caller |
//! | `GET /api/v1/products/{product_id}` | `CatalogQueries.GetProduct` | any caller |
//! | `GET /api/v1/me` | `CustomerQueries.GetCustomer` | a customer, own |
//! | `GET /api/v1/cart` | `CartQueries.GetCart` | a customer, own |
//! | `GET /api/v1/orders?status=&limit=&cursor=` | `OrderQueries.ListOrders` | a customer, own |
//! | `GET /api/v1/orders/{order_id}` | `OrderQueries.GetOrder` | the order's customer or an admin |
//! | `GET /api/v1/payments?limit=&cursor=` | `PaymentQueries.ListPayments` | a customer, own |
//! | `GET /api/v1/payments/{payment_id}` | `PaymentQueries.GetPayment` | the payment's customer or an admin |
//! | `GET /api/v1/orders/{order_id}/checkout` | `CheckoutQueries.GetCheckout` | the order's customer or an admin |
//! | `GET /api/v1/admin/customers/{customer_id}` (`/cart`, `/orders`, `/payments`) | as above | an admin |
//! | `GET /api/v1/admin/checkouts/stuck?limit=&cursor=` | `CheckoutQueries.ListStuckCheckouts` | an admin |
//! | `GET /api/v1/admin/audit/…` (stream history and state, causal chain, events by actor or type, counts, a customer's events) | `AuditQueries.*` ([`audit`]) | an admin |
//! | `POST /api/v1/webhooks/payments` | `PaymentCommands.Capture` / `Fail` / `Refund` | the payment provider (signed callback, no token) |
//! | `GET /healthz`, `GET /readyz`, `GET /api/v1/openapi.json` | — | anyone |

pub mod audit;
pub mod carts;
pub mod checkouts;
pub mod customers;
pub mod health;
pub mod orders;
pub mod payments;
pub mod products;
pub mod webhooks;

use axum::{Router, extract::DefaultBodyLimit, middleware::from_fn_with_state};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::ApiError,
    extract::ReadContext,
    middleware::request_context,
    openapi::{self, ApiDoc},
    params,
    state::AppState,
};

/// Every route, each declared once: `routes!` takes the handler's path and method from its
/// `#[utoipa::path]` and adds both the route and its operation in the document. The document
/// still lacks what [`openapi::ApiConventions`] adds to every operation.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(openapi::document))
        .routes(routes!(products::list_products))
        .routes(routes!(products::get_product))
        .routes(routes!(customers::me))
        .routes(routes!(carts::own_cart))
        .routes(routes!(orders::own_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(payments::own_payments))
        .routes(routes!(payments::get_payment))
        .routes(routes!(customers::admin_customer))
        .routes(routes!(carts::admin_cart))
        .routes(routes!(orders::admin_orders))
        .routes(routes!(payments::admin_payments))
        .routes(routes!(checkouts::get_checkout))
        .routes(routes!(checkouts::stuck_checkouts))
        .routes(routes!(audit::stream_history))
        .routes(routes!(audit::causal_chain))
        .routes(routes!(audit::events_by_actor))
        .routes(routes!(audit::events_by_type))
        .routes(routes!(audit::counts))
        .routes(routes!(audit::aggregate_state))
        .routes(routes!(audit::subject_events))
        .routes(routes!(webhooks::payment_callback))
}

/// The whole HTTP API over `state`, middleware included; what the server and the tests serve.
pub fn router(state: AppState) -> Router {
    let (routes, _document) = api().split_for_parts();
    routes
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Only the webhook reads a body; the middleware refuses larger announced lengths on every
        // route at once, this bounds a body sent without a length as it is read.
        .layer(DefaultBodyLimit::max(webhooks::MAX_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

/// The customer an `/api/v1/admin/customers/{customer_id}/…` route reads: the path's id, once
/// the caller is known to be an admin.
fn admin_target(context: &ReadContext, customer_id: &str) -> Result<String, ApiError> {
    context.require_admin()?;
    params::uuid("customer_id", customer_id)
}

async fn no_such_route() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
