//! Orders: `GET /api/v1/orders` and `GET /api/v1/orders/{order_id}` (the calling customer's;
//! the query service refuses another customer's order), and
//! `GET /api/v1/admin/customers/{customer_id}/orders` (admins).

use axum::{Json, extract::State};
use proto::query::{GetOrderRequest, ListOrdersRequest, ListOrdersResponse, Order};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ApiQuery, ReadContext},
    params::{self, OrderListParams},
    state::AppState,
};

/// The calling customer's orders, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/orders",
    tag = "orders",
    params(OrderListParams),
    responses(
        (status = 200, description = "A page of the caller's orders; an empty `next_cursor` marks the last page", body = ListOrdersResponse),
        (status = 403, description = "The token is not a customer's", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "list_orders", skip_all)]
pub async fn own_orders(
    State(state): State<AppState>,
    context: ReadContext,
    ApiQuery(query): ApiQuery<OrderListParams>,
) -> Result<Json<ListOrdersResponse>, ApiError> {
    let customer_id = context.own_customer_id()?;
    orders(&state, &context, customer_id, &query).await
}

/// One order. Customers may read only their own; admins any.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{order_id}",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 403, description = "Another customer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "get_order", skip_all)]
pub async fn get_order(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(order_id): ApiPath<String>,
) -> Result<Json<Order>, ApiError> {
    let request = GetOrderRequest {
        order_id: params::uuid("order_id", &order_id)?,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.orders.clone().get_order(request))
        .await?;
    Ok(Json(answer))
}

/// Any customer's orders, newest first; admins only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/customers/{customer_id}/orders",
    tag = "admin",
    params(
        ("customer_id" = uuid::Uuid, Path, description = "The customer's id"),
        OrderListParams,
    ),
    responses(
        (status = 200, description = "A page of the customer's orders", body = ListOrdersResponse),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "admin_list_orders", skip_all)]
pub async fn admin_orders(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(customer_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OrderListParams>,
) -> Result<Json<ListOrdersResponse>, ApiError> {
    let customer_id = super::admin_target(&context, &customer_id)?;
    orders(&state, &context, customer_id, &query).await
}

async fn orders(
    state: &AppState,
    context: &ReadContext,
    customer_id: String,
    query: &OrderListParams,
) -> Result<Json<ListOrdersResponse>, ApiError> {
    let (page, status) = query.validate()?;
    let request = ListOrdersRequest {
        customer_id,
        status,
        limit: page.limit,
        cursor: page.cursor,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.orders.clone().list_orders(request))
        .await?;
    Ok(Json(answer))
}
