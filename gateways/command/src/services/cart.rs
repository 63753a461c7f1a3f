//! `commerce.cart.v1.CartCommands`: a customer acts on their own cart, an admin on any; `Clear`
//! is also open to other services (the checkout saga clears the cart it ordered).
//!
//! `AddItem` asks the product service for the SKU's facts (title, price, on sale, available
//! stock) before deciding; so does `ChangeQuantity` when it raises a quantity. Both first look
//! the command id up, so a retry of a command that already ran is answered from the log even
//! while the product service is down. If the product service cannot answer in time, nothing is
//! appended and the client gets `UNAVAILABLE`.

use aggregates::{
    Cart, CustomerId, DomainError, ProductId, SkuId,
    cart::{CartCommand, MAX_LINE_QUANTITY},
};
use chrono::Utc;
use proto::{cart::*, common};
use tonic::{Request, Response, Status};

use super::{Commands, Policy};
use crate::{
    auth::Caller,
    clients::ProductClient,
    error::AppError,
    handler::{CommandHandler, CommandResult},
    request,
};

/// The cart's owner, or an admin.
const OWNER: Policy<CustomerId> = Policy::Target(Caller::require_customer);
/// The cart's owner, another service of the shop, or an admin.
const OWNER_OR_SERVICE: Policy<CustomerId> = Policy::Target(super::owner_or_service);

/// The cart command service.
#[derive(Clone)]
pub struct CartService {
    handler: CommandHandler<Cart>,
    products: ProductClient,
}

impl CartService {
    /// A service executing commands with `handler`, asking `products` about SKUs.
    pub fn new(handler: CommandHandler<Cart>, products: ProductClient) -> Self {
        Self { handler, products }
    }

    async fn add_item(&self, request: &Request<AddItemRequest>) -> Result<CommandResult, AppError> {
        let body = request.get_ref();
        let (customer_id, context) =
            self.authorize(request, &body.command_id, &body.customer_id, OWNER)?;
        let product_id: ProductId = request::id("product_id", &body.product_id)?;
        let sku_id: SkuId = request::id("sku_id", &body.sku_id)?;
        // Checked before asking the product service, so a malformed request never waits on it.
        let quantity = quantity(body.quantity)?;
        if let Some(done) = self.handler.executed(&context, &customer_id).await? {
            return Ok(done);
        }
        let sku = self.products.sku(&context, product_id, sku_id).await?;
        let command = CartCommand::AddItem {
            customer_id,
            product_id,
            sku_id,
            quantity,
            title: sku.title,
            unit_price: sku.unit_price,
            sku_active: sku.on_sale,
            available_stock: sku.available,
            at: Utc::now(),
        };
        self.handler.execute(&context, &customer_id, command).await
    }

    async fn change_quantity(
        &self,
        request: &Request<ChangeQuantityRequest>,
    ) -> Result<CommandResult, AppError> {
        let body = request.get_ref();
        let (customer_id, context) =
            self.authorize(request, &body.command_id, &body.customer_id, OWNER)?;
        let sku_id: SkuId = request::id("sku_id", &body.sku_id)?;
        let quantity = quantity(body.quantity)?;
        if let Some(done) = self.handler.executed(&context, &customer_id).await? {
            return Ok(done);
        }
        let cart = self.handler.load(&customer_id).await?;
        let available_stock = match cart.state.line(&sku_id) {
            Some(line) if quantity > line.quantity => {
                let sku = self.products.sku(&context, line.product_id, sku_id).await?;
                // Nothing more of a SKU that is no longer on sale can be had.
                if sku.on_sale { sku.available } else { 0 }
            }
            // Lowering a quantity needs no stock facts (the aggregate checks stock only when a
            // quantity grows, and the line held at least `quantity` items when read), so it
            // works while the product service is down. Without a line the aggregate answers
            // NOT_FOUND. Stock facts are advisory either way: the order reserves the stock.
            _ => quantity,
        };
        let command = CartCommand::ChangeQuantity {
            customer_id,
            sku_id,
            quantity,
            available_stock,
            at: Utc::now(),
        };
        self.handler.execute(&context, &customer_id, command).await
    }
}

/// A line quantity in 1..=99, as the aggregate requires.
fn quantity(quantity: u32) -> Result<u32, AppError> {
    if (1..=MAX_LINE_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(DomainError::InvalidQuantity {
            field: "quantity",
            quantity,
            min: 1,
            max: MAX_LINE_QUANTITY,
        }
        .into())
    }
}

fn token(result: CommandResult) -> Option<common::CommandResult> {
    Some(result.into())
}

impl Commands for CartService {
    type Aggregate = Cart;
    const ID_FIELD: &'static str = "customer_id";

    fn handler(&self) -> &CommandHandler<Cart> {
        &self.handler
    }
}

#[tonic::async_trait]
impl cart_commands_server::CartCommands for CartService {
    async fn add_item(
        &self,
        request: Request<AddItemRequest>,
    ) -> Result<Response<AddItemResponse>, Status> {
        let result = self.add_item(&request).await?;
        Ok(Response::new(AddItemResponse {
            result: token(result),
        }))
    }

    async fn change_quantity(
        &self,
        request: Request<ChangeQuantityRequest>,
    ) -> Result<Response<ChangeQuantityResponse>, Status> {
        let result = self.change_quantity(&request).await?;
        Ok(Response::new(ChangeQuantityResponse {
            result: token(result),
        }))
    }

    async fn remove_item(
        &self,
        request: Request<RemoveItemRequest>,
    ) -> Result<Response<RemoveItemResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.customer_id,
                OWNER,
                |customer_id| {
                    Ok(CartCommand::RemoveItem {
                        customer_id,
                        sku_id: request::id("sku_id", &body.sku_id)?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(RemoveItemResponse { result }))
    }

    async fn clear(
        &self,
        request: Request<ClearRequest>,
    ) -> Result<Response<ClearResponse>, Status> {
        let body = request.get_ref();
        // An empty cart: no events, its current version. A cart never used: NOT_FOUND from the
        // handler (there is no version to return).
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.customer_id,
                OWNER_OR_SERVICE,
                |customer_id| {
                    Ok(CartCommand::Clear {
                        customer_id,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(ClearResponse { result }))
    }
}
