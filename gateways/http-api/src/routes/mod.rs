//! The routes, one file per resource; each handler checks who may read, validates its
//! parameters and asks one query service. [`router`] assembles them with the middleware.
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
//! | `GET /api/v1/admin/customers/{customer_id}` (`/cart`, `/orders`, `/payments`) | as above | an admin |
//! | `GET /healthz`, `GET /readyz`, `GET /api/v1/openapi.json` | — | anyone |

pub mod carts;
pub mod customers;
pub mod health;
pub mod orders;
pub mod payments;
pub mod products;

use axum::{Router, middleware::from_fn_with_state, routing::get};

use crate::{error::ApiError, middleware::request_context, openapi, state::AppState};

/// The whole HTTP API over `state`, middleware included; what the server and the tests serve.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(openapi::OPENAPI_PATH, get(openapi::document))
        .route("/api/v1/products", get(products::list_products))
        .route("/api/v1/products/{product_id}", get(products::get_product))
        .route("/api/v1/me", get(customers::me))
        .route("/api/v1/cart", get(carts::own_cart))
        .route("/api/v1/orders", get(orders::own_orders))
        .route("/api/v1/orders/{order_id}", get(orders::get_order))
        .route("/api/v1/payments", get(payments::own_payments))
        .route("/api/v1/payments/{payment_id}", get(payments::get_payment))
        .route(
            "/api/v1/admin/customers/{customer_id}",
            get(customers::admin_customer),
        )
        .route(
            "/api/v1/admin/customers/{customer_id}/cart",
            get(carts::admin_cart),
        )
        .route(
            "/api/v1/admin/customers/{customer_id}/orders",
            get(orders::admin_orders),
        )
        .route(
            "/api/v1/admin/customers/{customer_id}/payments",
            get(payments::admin_payments),
        )
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

async fn no_such_route() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
