//! `commerce.customer.v1.CustomerCommands`: a customer acts on their own account; an admin on
//! any; `DebitBalance` is for the payment service (role `service`) or an admin.

use aggregates::{Customer, CustomerId, customer::CustomerCommand};
use chrono::Utc;
use proto::customer::*;
use tonic::{Request, Response, Status};

use super::{Commands, Policy};
use crate::{auth::Caller, handler::CommandHandler, request};

/// The customer's own account, or an admin.
const OWNER: Policy<CustomerId> = Policy::Target(Caller::require_customer);
/// The account's owner (a top-up), another service (a refund credited by the checkout process
/// manager), or an admin.
const OWNER_OR_SERVICE: Policy<CustomerId> = Policy::Target(super::owner_or_service);
/// Another service of the shop, or an admin (checked once the customer id is known to be well
/// formed, as the other policies are).
const SERVICE: Policy<CustomerId> = Policy::Target(|caller, _| caller.require_service());

/// The customer command service.
#[derive(Clone)]
pub struct CustomerService {
    handler: CommandHandler<Customer>,
}

impl CustomerService {
    /// A service executing commands with `handler`.
    pub fn new(handler: CommandHandler<Customer>) -> Self {
        Self { handler }
    }
}

impl Commands for CustomerService {
    type Aggregate = Customer;
    const ID_FIELD: &'static str = "customer_id";

    fn handler(&self) -> &CommandHandler<Customer> {
        &self.handler
    }
}

#[tonic::async_trait]
impl customer_commands_server::CustomerCommands for CustomerService {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.customer_id,
                OWNER,
                |customer_id| {
                    Ok(CustomerCommand::Register {
                        customer_id,
                        email: body.email.clone(),
                        name: body.name.clone(),
                        currency: request::currency("currency", &body.currency)?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(RegisterResponse { result }))
    }

    async fn update_profile(
        &self,
        request: Request<UpdateProfileRequest>,
    ) -> Result<Response<UpdateProfileResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.customer_id, OWNER, |_| {
                Ok(CustomerCommand::UpdateProfile {
                    email: body.email.clone(),
                    name: body.name.clone(),
                    at: Utc::now(),
                })
            })
            .await?;
        Ok(Response::new(UpdateProfileResponse { result }))
    }

    async fn deposit_balance(
        &self,
        request: Request<DepositBalanceRequest>,
    ) -> Result<Response<DepositBalanceResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.customer_id,
                OWNER_OR_SERVICE,
                |_| {
                    Ok(CustomerCommand::DepositBalance {
                        amount: request::money("amount", body.amount.as_ref())?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(DepositBalanceResponse { result }))
    }

    async fn debit_balance(
        &self,
        request: Request<DebitBalanceRequest>,
    ) -> Result<Response<DebitBalanceResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(
                &request,
                &body.command_id,
                &body.customer_id,
                SERVICE,
                |_| {
                    Ok(CustomerCommand::DebitBalance {
                        payment_id: request::id("payment_id", &body.payment_id)?,
                        amount: request::money("amount", body.amount.as_ref())?,
                        at: Utc::now(),
                    })
                },
            )
            .await?;
        Ok(Response::new(DebitBalanceResponse { result }))
    }

    async fn deactivate(
        &self,
        request: Request<DeactivateRequest>,
    ) -> Result<Response<DeactivateResponse>, Status> {
        let body = request.get_ref();
        let result = self
            .execute(&request, &body.command_id, &body.customer_id, OWNER, |_| {
                Ok(CustomerCommand::Deactivate { at: Utc::now() })
            })
            .await?;
        Ok(Response::new(DeactivateResponse { result }))
    }
}
