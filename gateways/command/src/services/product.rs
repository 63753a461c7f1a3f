//! `commerce.product.v1.ProductCommands` and `ProductStock`: catalog management needs an admin;
//! stock reservations are for the order saga (role `service`) or an admin; availability answers
//! any authenticated caller, read from the product stream itself.

use aggregates::{
    DomainError, Product, ProductId,
    product::{ProductCommand, ProductState, StockLine},
};
use chrono::Utc;
use proto::product::*;
use tonic::{Request, Response, Status};

use super::{Commands, Policy};
use crate::{
    auth::{Caller, caller},
    error::AppError,
    handler::CommandHandler,
    request,
};

/// Catalog management.
const ADMIN: Policy<ProductId> = Policy::Caller(Caller::require_admin);
/// Stock reservations: another service of the shop, or an admin.
const SERVICE: Policy<ProductId> = Policy::Caller(Caller::require_service);

/// The product command service.
#[derive(Clone)]
pub struct ProductService {
    handler: CommandHandler<Product>,
}

impl ProductService {
    /// A service executing commands with `handler`.
    pub fn new(handler: CommandHandler<Product>) -> Self {
        Self { handler }
    }
}

impl Commands for ProductService {
    type Aggregate = Product;
    const ID_FIELD: &'static str = "product_id";

    fn handler(&self) -> &CommandHandler<Product> {
        &self.handler
    }
}

#[tonic::async_trait]
impl product_commands_server::ProductCommands for ProductService {
    async fn create_product(
        &self,
        request: Request<CreateProductRequest>,
    ) -> Result<Response<CreateProductResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.product_id,
                ADMIN,
                |product_id| {
                    Ok(ProductCommand::CreateProduct {
                        product_id,
                        title: body.title.clone(),
                        description: body.description.clone(),
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(CreateProductResponse { result }))
    }

    async fn add_sku(
        &self,
        request: Request<AddSkuRequest>,
    ) -> Result<Response<AddSkuResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.product_id, ADMIN, |_| {
                Ok(ProductCommand::AddSku {
                    sku_id: request::id("sku_id", &body.sku_id)?,
                    price: request::money("price", body.price.as_ref())?,
                    attributes: body.attributes.clone().into_iter().collect(),
                    at: Utc::now(),
                })
            })
            .await?;
        Ok(Response::new(AddSkuResponse { result }))
    }

    async fn restock_sku(
        &self,
        request: Request<RestockSkuRequest>,
    ) -> Result<Response<RestockSkuResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.product_id, ADMIN, |_| {
                Ok(ProductCommand::RestockSku {
                    sku_id: request::id("sku_id", &body.sku_id)?,
                    quantity: body.quantity,
                    at: Utc::now(),
                })
            })
            .await?;
        Ok(Response::new(RestockSkuResponse { result }))
    }

    async fn reserve_stock(
        &self,
        request: Request<ReserveStockRequest>,
    ) -> Result<Response<ReserveStockResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.product_id,
                SERVICE,
                |_| {
                    let items = body
                        .items
                        .iter()
                        .map(|line| {
                            Ok(StockLine {
                                sku_id: request::id("items.sku_id", &line.sku_id)?,
                                quantity: line.quantity,
                            })
                        })
                        .collect::<Result<_, AppError>>()?;
                    Ok(ProductCommand::ReserveStock {
                        reservation_id: request::id("reservation_id", &body.reservation_id)?,
                        items,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(ReserveStockResponse { result }))
    }

    async fn release_stock(
        &self,
        request: Request<ReleaseStockRequest>,
    ) -> Result<Response<ReleaseStockResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.product_id,
                SERVICE,
                |_| {
                    Ok(ProductCommand::ReleaseStock {
                        reservation_id: request::id("reservation_id", &body.reservation_id)?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(ReleaseStockResponse { result }))
    }

    async fn commit_stock(
        &self,
        request: Request<CommitStockRequest>,
    ) -> Result<Response<CommitStockResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.product_id,
                SERVICE,
                |_| {
                    Ok(ProductCommand::CommitStock {
                        reservation_id: request::id("reservation_id", &body.reservation_id)?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(CommitStockResponse { result }))
    }

    async fn return_stock(
        &self,
        request: Request<ReturnStockRequest>,
    ) -> Result<Response<ReturnStockResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.product_id,
                SERVICE,
                |_| {
                    Ok(ProductCommand::ReturnStock {
                        reservation_id: request::id("reservation_id", &body.reservation_id)?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(ReturnStockResponse { result }))
    }

    async fn discontinue_product(
        &self,
        request: Request<DiscontinueProductRequest>,
    ) -> Result<Response<DiscontinueProductResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.product_id, ADMIN, |_| {
                Ok(ProductCommand::DiscontinueProduct { at: Utc::now() })
            })
            .await?;
        Ok(Response::new(DiscontinueProductResponse { result }))
    }

    async fn discontinue_sku(
        &self,
        request: Request<DiscontinueSkuRequest>,
    ) -> Result<Response<DiscontinueSkuResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.product_id, ADMIN, |_| {
                Ok(ProductCommand::DiscontinueSku {
                    sku_id: request::id("sku_id", &body.sku_id)?,
                    at: Utc::now(),
                })
            })
            .await?;
        Ok(Response::new(DiscontinueSkuResponse { result }))
    }
}

/// The product stock query service.
#[derive(Clone)]
pub struct ProductStockService {
    handler: CommandHandler<Product>,
}

impl ProductStockService {
    /// A service reading product streams through `handler`.
    pub fn new(handler: CommandHandler<Product>) -> Self {
        Self { handler }
    }
}

#[tonic::async_trait]
impl product_stock_server::ProductStock for ProductStockService {
    async fn get_sku_availability(
        &self,
        request: Request<GetSkuAvailabilityRequest>,
    ) -> Result<Response<GetSkuAvailabilityResponse>, Status> {
        caller(&request)?;
        let body = request.get_ref();
        let product_id: ProductId = request::id("product_id", &body.product_id)?;
        let sku_id = request::id("sku_id", &body.sku_id)?;
        let loaded = self.handler.load(&product_id).await?;
        let ProductState::Created(product) = &loaded.state else {
            return Err(AppError::from(DomainError::NotCreated { entity: "product" }).into());
        };
        let sku = product.skus.get(&sku_id).ok_or_else(|| {
            AppError::from(DomainError::NotFound {
                entity: "sku",
                id: sku_id.to_string(),
            })
        })?;
        let version = match loaded.version {
            event_store::CurrentVersion::At(version) => version,
            event_store::CurrentVersion::NoStream => 0,
        };
        Ok(Response::new(GetSkuAvailabilityResponse {
            product_id: product_id.to_string(),
            sku_id: sku_id.to_string(),
            title: product.title.clone(),
            price: Some(request::money_to_proto(sku.price)),
            attributes: sku.attributes.clone().into_iter().collect(),
            on_hand: sku.on_hand,
            reserved: sku.reserved,
            available: sku.available(),
            on_sale: !product.discontinued && !sku.discontinued,
            version,
        }))
    }
}
