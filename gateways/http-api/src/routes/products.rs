//! The catalog: `GET /api/v1/products` and `GET /api/v1/products/{product_id}`, for any
//! authenticated caller.

use axum::{Json, extract::State};
use proto::query::{GetProductRequest, ListProductsRequest, ListProductsResponse, Product};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{ApiPath, ApiQuery, ReadContext},
    params::{self, ProductListParams},
    state::AppState,
};

/// Lists products with their SKUs and available stock, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "catalog",
    params(ProductListParams),
    responses(
        (status = 200, description = "A page of products; an empty `next_cursor` marks the last page", body = ListProductsResponse),
    ),
)]
#[tracing::instrument(name = "list_products", skip_all)]
pub async fn list_products(
    State(state): State<AppState>,
    context: ReadContext,
    ApiQuery(query): ApiQuery<ProductListParams>,
) -> Result<Json<ListProductsResponse>, ApiError> {
    let (page, title_prefix) = query.validate()?;
    let request = ListProductsRequest {
        limit: page.limit,
        cursor: page.cursor,
        title_prefix,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.catalog.clone().list_products(request))
        .await?;
    Ok(Json(answer))
}

/// One product with its SKUs and available stock.
#[utoipa::path(
    get,
    path = "/api/v1/products/{product_id}",
    tag = "catalog",
    params(("product_id" = uuid::Uuid, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "get_product", skip_all)]
pub async fn get_product(
    State(state): State<AppState>,
    context: ReadContext,
    ApiPath(product_id): ApiPath<String>,
) -> Result<Json<Product>, ApiError> {
    let request = GetProductRequest {
        product_id: params::uuid("product_id", &product_id)?,
        consistency: context.consistency.clone(),
    };
    let request = context.grpc(request, state.query_timeout);
    let answer = state
        .call(state.query.catalog.clone().get_product(request))
        .await?;
    Ok(Json(answer))
}
