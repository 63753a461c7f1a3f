//! Checkouts (`docs/checkout.md`): `GET /api/v1/orders/{order_id}/checkout` (the order's
//! customer or an admin; the query service refuses another customer's checkout as it does their
//! order) and `GET /api/v1/admin/checkouts/stuck` (admins).

use axum::{Json, extract::State};
use proto::query::{
    Checkout, GetCheckoutRequest, ListStuckCheckoutsRequest, ListStuckCheckoutsResponse,
};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ApiQuery, ReadContext},
    params::{self, PageParams},
    state::AppState,
};

/// The checkout of one order: where the purchase is and every step it took. Customers may read
/// only their own; admins any. The checkout is written by the process manager after the order
/// was placed, so its `X-Consistency-Token` is one of stream `checkout-<order id>`: the order
/// stream's token is refused (400).
#[utoipa::path(
    get,
    path = "/api/v1/orders/{order_id}/checkout",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order's checkout with its timeline, oldest event first", body = Checkout),
        (status = 403, description = "Another customer's order", body = ErrorBody),
        (status = 404, description = "No checkout for this order (unknown, placed without `Checkout`, or not started yet: ask again)", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "get_checkout", skip_all)]
pub async fn get_checkout(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(order_id): ApiPath<String>,
) -> Result<Json<Checkout>, ApiError> {
    let request = GetCheckoutRequest {
        order_id: params::uuid("order_id", &order_id)?,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.checkouts.clone().get_checkout(request))
        .await?;
    Ok(Json(answer))
}

/// The stuck checkouts, oldest first: still `running`, `compensating` or `refunding` more than
/// `checkout.stuck_after_secs` past their deadline. Admins only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/checkouts/stuck",
    tag = "admin",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the stuck checkouts; an empty `next_cursor` marks the last page", body = ListStuckCheckoutsResponse),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "list_stuck_checkouts", skip_all)]
pub async fn stuck_checkouts(
    State(state): State<AppState>,
    context: ReadContext,
    ApiQuery(query): ApiQuery<PageParams>,
) -> Result<Json<ListStuckCheckoutsResponse>, ApiError> {
    context.require_admin()?;
    let page = query.page()?;
    let request = ListStuckCheckoutsRequest {
        limit: page.limit,
        cursor: page.cursor,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.checkouts.clone().list_stuck_checkouts(request))
        .await?;
    Ok(Json(answer))
}
