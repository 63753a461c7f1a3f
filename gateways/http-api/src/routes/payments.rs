//! Payments: `GET /api/v1/payments` and `GET /api/v1/payments/{payment_id}` (the calling
//! customer's; the query service refuses another customer's payment), and
//! `GET /api/v1/admin/customers/{customer_id}/payments` (admins).

use axum::{Json, extract::State};
use proto::query::{GetPaymentRequest, ListPaymentsRequest, ListPaymentsResponse, Payment};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ApiQuery, ReadContext},
    params::{self, PageParams},
    state::AppState,
};

/// The calling customer's payments, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/payments",
    tag = "payments",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's payments; an empty `next_cursor` marks the last page", body = ListPaymentsResponse),
        (status = 403, description = "The token is not a customer's", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "list_payments", skip_all)]
pub async fn own_payments(
    State(state): State<AppState>,
    context: ReadContext,
    ApiQuery(query): ApiQuery<PageParams>,
) -> Result<Json<ListPaymentsResponse>, ApiError> {
    let customer_id = context.own_customer_id()?;
    payments(&state, &context, customer_id, &query).await
}

/// One payment. Customers may read only their own; admins any.
#[utoipa::path(
    get,
    path = "/api/v1/payments/{payment_id}",
    tag = "payments",
    params(("payment_id" = uuid::Uuid, Path, description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 403, description = "Another customer's payment", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "get_payment", skip_all)]
pub async fn get_payment(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(payment_id): ApiPath<String>,
) -> Result<Json<Payment>, ApiError> {
    let request = GetPaymentRequest {
        payment_id: params::uuid("payment_id", &payment_id)?,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.payments.clone().get_payment(request))
        .await?;
    Ok(Json(answer))
}

/// Any customer's payments, newest first; admins only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/customers/{customer_id}/payments",
    tag = "admin",
    params(
        ("customer_id" = uuid::Uuid, Path, description = "The customer's id"),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of the customer's payments", body = ListPaymentsResponse),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "admin_list_payments", skip_all)]
pub async fn admin_payments(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(customer_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageParams>,
) -> Result<Json<ListPaymentsResponse>, ApiError> {
    let customer_id = super::admin_target(&context, &customer_id)?;
    payments(&state, &context, customer_id, &query).await
}

async fn payments(
    state: &AppState,
    context: &ReadContext,
    customer_id: String,
    query: &PageParams,
) -> Result<Json<ListPaymentsResponse>, ApiError> {
    let page = query.page()?;
    let request = ListPaymentsRequest {
        customer_id,
        limit: page.limit,
        cursor: page.cursor,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.payments.clone().list_payments(request))
        .await?;
    Ok(Json(answer))
}
