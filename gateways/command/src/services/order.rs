//! `commerce.order.v1.OrderCommands`: a customer places and cancels their own orders; the
//! checkout saga and the warehouse (role `service`) or an admin drive the rest of the life
//! cycle (stock reserved, paid, shipped, refunded) and may cancel too.
//!
//! `Checkout` is `PlaceOrder` plus the payment method: the checkout process manager buys from
//! there (`docs/checkout.md`).
//!
//! `PlaceOrder` takes its lines from the customer's cart stream (`cart-<customer id>`) as stored
//! now, never from the request: the prices are those the cart took from the product service,
//! so a client cannot name its own prices. The cart is read, not changed; clearing it is the
//! saga's job.

use aggregates::{
    Cart, Order, OrderId,
    order::{OrderCommand, OrderState},
};
use chrono::Utc;
use event_store::CurrentVersion;
use proto::order::*;
use tonic::{Request, Response, Status};

use super::{Commands, Policy};
use crate::{
    auth::{Caller, ROLE_CUSTOMER, caller},
    error::AppError,
    handler::{CommandHandler, CommandResult},
    request,
};

/// The saga's and operators' commands: another service of the shop, or an admin.
const SERVICE: Policy<OrderId> = Policy::Caller(Caller::require_service);

/// The order command service.
#[derive(Clone)]
pub struct OrderService {
    handler: CommandHandler<Order>,
    carts: CommandHandler<Cart>,
}

impl OrderService {
    /// A service executing commands with `handler` and reading carts with `carts`.
    pub fn new(handler: CommandHandler<Order>, carts: CommandHandler<Cart>) -> Self {
        Self { handler, carts }
    }

    /// `PlaceOrder` (no payment method) and `Checkout` (with one): the order from the cart as
    /// stored now.
    async fn place<T: prost::Name>(
        &self,
        request: &Request<T>,
        placement: Placement<'_>,
    ) -> Result<CommandResult, AppError> {
        let caller = caller(request)?;
        let customer_id = request::id("customer_id", placement.customer_id)?;
        caller.require_customer(&customer_id)?;
        let order_id: OrderId = request::id("order_id", placement.order_id)?;
        let payment_method = placement
            .payment_method
            .map(|value| request::payment_method("payment_method", value))
            .transpose()?;
        let context = request::context(request, caller, placement.command_id)?;
        // A retry after the cart was cleared must still get its original answer.
        if let Some(done) = self.handler.executed(&context, &order_id).await? {
            return Ok(done);
        }
        let cart = self.carts.load(&customer_id).await?;
        if let Some(expected) = placement.expected_cart_version
            && cart.version != CurrentVersion::At(expected)
        {
            return Err(AppError::Precondition(match cart.version {
                CurrentVersion::At(actual) => {
                    format!("cart changed since version {expected}: it is at version {actual}")
                }
                CurrentVersion::NoStream => "cart does not exist".to_owned(),
            }));
        }
        if cart.state.lines.is_empty() {
            return Err(AppError::Precondition("cart is empty".to_owned()));
        }
        let (lines, at) = (cart.state.order_lines(), Utc::now());
        let command = match payment_method {
            None => OrderCommand::PlaceOrder {
                order_id,
                customer_id,
                lines,
                at,
            },
            Some(payment_method) => OrderCommand::Checkout {
                order_id,
                customer_id,
                lines,
                payment_method,
                at,
            },
        };
        self.handler.execute(&context, &order_id, command).await
    }

    async fn cancel(&self, request: &Request<CancelRequest>) -> Result<CommandResult, AppError> {
        let body = request.get_ref();
        let caller = caller(request)?;
        let order_id: OrderId = request::id("order_id", &body.order_id)?;
        let context = request::context(request, caller, &body.command_id)?;
        let command = OrderCommand::Cancel {
            reason: body.reason.clone(),
            at: Utc::now(),
        };
        // Checked on the state the cancel is decided on, not on an earlier load: an order that
        // did not exist a moment ago may have been placed by another customer since.
        self.handler
            .execute_authorized(&context, &order_id, command, |order| {
                may_cancel(caller, order)
            })
            .await
    }
}

/// The fields `PlaceOrder` and `Checkout` share; `payment_method` only for a checkout (the wire
/// enum's value).
struct Placement<'a> {
    command_id: &'a str,
    order_id: &'a str,
    customer_id: &'a str,
    expected_cart_version: Option<u64>,
    payment_method: Option<i32>,
}

/// A service or admin may cancel any order; a customer only their own (an unknown order is left
/// to the aggregate, which answers NOT_FOUND).
fn may_cancel(caller: &Caller, order: &OrderState) -> Result<(), AppError> {
    if caller.require_service().is_ok() {
        return Ok(());
    }
    match order {
        OrderState::Existing(order) => Ok(caller.require_customer(&order.customer_id)?),
        OrderState::NotPlaced if caller.has_role(ROLE_CUSTOMER) => Ok(()),
        OrderState::NotPlaced => Err(AppError::PermissionDenied(
            "needs the customer, service or admin role",
        )),
    }
}

impl Commands for OrderService {
    type Aggregate = Order;
    const ID_FIELD: &'static str = "order_id";

    fn handler(&self) -> &CommandHandler<Order> {
        &self.handler
    }
}

#[tonic::async_trait]
impl order_commands_server::OrderCommands for OrderService {
    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<PlaceOrderResponse>, Status> {
        let body = request.get_ref();
        let placement = Placement {
            command_id: &body.command_id,
            order_id: &body.order_id,
            customer_id: &body.customer_id,
            expected_cart_version: body.expected_cart_version,
            payment_method: None,
        };
        let result = self.place(&request, placement).await?;
        Ok(Response::new(PlaceOrderResponse {
            result: Some(result.into()),
        }))
    }

    async fn checkout(
        &self,
        request: Request<CheckoutRequest>,
    ) -> Result<Response<CheckoutResponse>, Status> {
        let body = request.get_ref();
        let placement = Placement {
            command_id: &body.command_id,
            order_id: &body.order_id,
            customer_id: &body.customer_id,
            expected_cart_version: body.expected_cart_version,
            payment_method: Some(body.payment_method),
        };
        let result = self.place(&request, placement).await?;
        Ok(Response::new(CheckoutResponse {
            result: Some(result.into()),
        }))
    }

    async fn mark_stock_reserved(
        &self,
        request: Request<MarkStockReservedRequest>,
    ) -> Result<Response<MarkStockReservedResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.order_id, SERVICE, |_| {
                Ok(OrderCommand::MarkStockReserved { at: Utc::now() })
            })
            .await?;
        Ok(Response::new(MarkStockReservedResponse { result }))
    }

    async fn mark_paid(
        &self,
        request: Request<MarkPaidRequest>,
    ) -> Result<Response<MarkPaidResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.order_id, SERVICE, |_| {
                Ok(OrderCommand::MarkPaid {
                    payment_id: request::id("payment_id", &body.payment_id)?,
                    amount: request::money("amount", body.amount.as_ref())?,
                    at: Utc::now(),
                })
            })
            .await?;
        Ok(Response::new(MarkPaidResponse { result }))
    }

    async fn cancel(
        &self,
        request: Request<CancelRequest>,
    ) -> Result<Response<CancelResponse>, Status> {
        let result = self.cancel(&request).await?;
        Ok(Response::new(CancelResponse {
            result: Some(result.into()),
        }))
    }

    async fn ship(&self, request: Request<ShipRequest>) -> Result<Response<ShipResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.order_id, SERVICE, |_| {
                Ok(OrderCommand::Ship { at: Utc::now() })
            })
            .await?;
        Ok(Response::new(ShipResponse { result }))
    }

    async fn refund(
        &self,
        request: Request<RefundRequest>,
    ) -> Result<Response<RefundResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.order_id, SERVICE, |_| {
                Ok(OrderCommand::Refund {
                    reason: body.reason.clone(),
                    at: Utc::now(),
                })
            })
            .await?;
        Ok(Response::new(RefundResponse { result }))
    }
}
