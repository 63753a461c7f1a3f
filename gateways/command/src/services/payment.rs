//! `commerce.payment.v1.PaymentCommands`: the paying customer (for themselves), the checkout
//! saga (role `service`) or an admin initiates a payment; capture, failure and refunds are for
//! the saga or the payment provider adapter (role `service`) or an admin.
//!
//! The external provider's HMAC-signed callbacks reach these commands through the HTTP API's
//! webhook (`docs/payments.md`), which sends them as a service with a command id derived from
//! the provider's event id, so a replayed callback changes nothing.

use ::proto::payment as proto;
use aggregates::{
    Aggregate, CustomerId, DomainError, Order, OrderId, Payment, PaymentId, order::OrderState,
    payment::PaymentCommand,
};
use chrono::Utc;
use tonic::{Request, Response, Status};

use super::{Commands, Policy};
use crate::{
    auth::{Caller, caller},
    error::AppError,
    handler::{CommandHandler, CommandResult},
    request,
};

/// Capture, failure and refunds: the saga or the provider adapter (another service of the
/// shop), or an admin.
const SERVICE: Policy<PaymentId> = Policy::Caller(Caller::require_service);

/// The payment command service.
#[derive(Clone)]
pub struct PaymentService {
    handler: CommandHandler<Payment>,
    orders: CommandHandler<Order>,
}

impl PaymentService {
    /// A service executing commands with `handler`, reading orders with `orders`.
    pub fn new(handler: CommandHandler<Payment>, orders: CommandHandler<Order>) -> Self {
        Self { handler, orders }
    }

    async fn initiate(
        &self,
        request: &Request<proto::InitiateRequest>,
    ) -> Result<CommandResult, AppError> {
        let body = request.get_ref();
        let caller = caller(request)?;
        let customer_id = request::id("customer_id", &body.customer_id)?;
        caller
            .require_service()
            .or_else(|_| caller.require_customer(&customer_id))?;
        let payment_id: PaymentId = request::id("payment_id", &body.payment_id)?;
        let order_id: OrderId = request::id("order_id", &body.order_id)?;
        let context = request::context(request, caller, &body.command_id)?;
        let command = PaymentCommand::Initiate {
            payment_id,
            order_id,
            customer_id,
            amount: request::money("amount", body.amount.as_ref())?,
            method: request::payment_method("method", body.method)?,
            at: Utc::now(),
        };
        // An order's customer is fixed when it is placed and never changes, so this load is as
        // good as the state the payment is decided on; an order not placed yet is refused (it
        // could still be placed by anyone).
        let order = self.orders.load(&order_id).await?;
        paid_by_its_customer(&order.state, customer_id)?;
        self.handler.execute(&context, &payment_id, command).await
    }
}

/// A payment is for an order that exists and belongs to the paying customer, whoever initiates it
/// (the customer, the checkout saga or an admin).
fn paid_by_its_customer(order: &OrderState, customer_id: CustomerId) -> Result<(), AppError> {
    match order {
        OrderState::Existing(order) if order.customer_id == customer_id => Ok(()),
        OrderState::Existing(_) => Err(AppError::PermissionDenied(
            "the order belongs to another customer",
        )),
        OrderState::NotPlaced => Err(DomainError::NotCreated {
            entity: Order::CATEGORY,
        }
        .into()),
    }
}

impl Commands for PaymentService {
    type Aggregate = Payment;
    const ID_FIELD: &'static str = "payment_id";

    fn handler(&self) -> &CommandHandler<Payment> {
        &self.handler
    }
}

#[tonic::async_trait]
impl proto::payment_commands_server::PaymentCommands for PaymentService {
    async fn initiate(
        &self,
        request: Request<proto::InitiateRequest>,
    ) -> Result<Response<proto::InitiateResponse>, Status> {
        let result = self.initiate(&request).await?;
        Ok(Response::new(proto::InitiateResponse {
            result: Some(result.into()),
        }))
    }

    async fn capture(
        &self,
        request: Request<proto::CaptureRequest>,
    ) -> Result<Response<proto::CaptureResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.payment_id,
                SERVICE,
                |_| {
                    Ok(PaymentCommand::Capture {
                        provider_reference: body.provider_reference.clone(),
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(proto::CaptureResponse { result }))
    }

    async fn fail(
        &self,
        request: Request<proto::FailRequest>,
    ) -> Result<Response<proto::FailResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.payment_id,
                SERVICE,
                |_| {
                    Ok(PaymentCommand::Fail {
                        reason: body.reason.clone(),
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(proto::FailResponse { result }))
    }

    async fn refund(
        &self,
        request: Request<proto::RefundRequest>,
    ) -> Result<Response<proto::RefundResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.payment_id,
                SERVICE,
                |_| {
                    Ok(PaymentCommand::Refund {
                        amount: request::money("amount", body.amount.as_ref())?,
                        reason: body.reason.clone(),
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(proto::RefundResponse { result }))
    }
}
