//! Carts: `GET /api/v1/cart` (the calling customer's) and
//! `GET /api/v1/admin/customers/{customer_id}/cart` (admins).

use axum::{Json, extract::State};
use proto::query::{Cart, GetCartRequest};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ReadContext},
    state::AppState,
};

/// The calling customer's cart, with prices and stock checked.
#[utoipa::path(
    get,
    path = "/api/v1/cart",
    tag = "carts",
    responses(
        (status = 200, description = "The caller's cart (empty when nothing was added)", body = Cart),
        (status = 403, description = "The token is not a customer's", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "get_cart", skip_all)]
pub async fn own_cart(
    State(state): State<AppState>,
    context: ReadContext,
) -> Result<Json<Cart>, ApiError> {
    let customer_id = context.own_customer_id()?;
    cart(&state, &context, customer_id).await
}

/// Any customer's cart; admins only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/customers/{customer_id}/cart",
    tag = "admin",
    params(("customer_id" = uuid::Uuid, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer's cart", body = Cart),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "admin_get_cart", skip_all)]
pub async fn admin_cart(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(customer_id): ApiPath<String>,
) -> Result<Json<Cart>, ApiError> {
    let customer_id = super::admin_target(&context, &customer_id)?;
    cart(&state, &context, customer_id).await
}

async fn cart(
    state: &AppState,
    context: &ReadContext,
    customer_id: String,
) -> Result<Json<Cart>, ApiError> {
    let request = GetCartRequest {
        customer_id,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.carts.clone().get_cart(request))
        .await?;
    Ok(Json(answer))
}
