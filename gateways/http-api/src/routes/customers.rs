//! Customer profiles: `GET /api/v1/me` (the calling customer) and
//! `GET /api/v1/admin/customers/{customer_id}` (admins).

use axum::{Json, extract::State};
use proto::query::{Customer, GetCustomerRequest};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ReadContext},
    state::AppState,
};

/// The calling customer's profile and balance.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "customers",
    responses(
        (status = 200, description = "The caller's profile", body = Customer),
        (status = 403, description = "The token is not a customer's", body = ErrorBody),
        (status = 404, description = "No such customer (yet: send the consistency token of the registration)", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "get_me", skip_all)]
pub async fn me(
    State(state): State<AppState>,
    context: ReadContext,
) -> Result<Json<Customer>, ApiError> {
    let customer_id = context.own_customer_id()?;
    customer(&state, &context, customer_id).await
}

/// Any customer's profile and balance; admins only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/customers/{customer_id}",
    tag = "admin",
    params(("customer_id" = uuid::Uuid, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer's profile", body = Customer),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "admin_get_customer", skip_all)]
pub async fn admin_customer(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(customer_id): ApiPath<String>,
) -> Result<Json<Customer>, ApiError> {
    let customer_id = super::admin_target(&context, &customer_id)?;
    customer(&state, &context, customer_id).await
}

async fn customer(
    state: &AppState,
    context: &ReadContext,
    customer_id: String,
) -> Result<Json<Customer>, ApiError> {
    let request = GetCustomerRequest {
        customer_id,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.customers.clone().get_customer(request))
        .await?;
    Ok(Json(answer))
}
