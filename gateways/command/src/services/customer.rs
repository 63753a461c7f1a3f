//! `commerce.customer.v1.CustomerCommands`: a customer acts on their own account; an admin on
//! any; `DebitBalance` is for the payment service (role `service`) or an admin.

use aggregates::{Customer, CustomerId, customer::CustomerCommand};
use chrono::Utc;
use proto::{common, customer::*};
use tonic::{Request, Response, Status};

use crate::{
    auth::{Caller, Denied, caller},
    error::AppError,
    handler::CommandHandler,
    request,
};

/// Who may send a customer command, given the caller and the customer it targets.
type Policy = fn(&Caller, &CustomerId) -> Result<(), Denied>;

/// The customer's own account, or an admin.
const OWNER: Policy = Caller::require_customer;
/// Another service of the shop, or an admin.
const SERVICE: Policy = |caller, _| caller.require_service();

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

    /// Authorizes and executes one command on `customer_id`.
    async fn execute<T: prost::Name>(
        &self,
        request: &Request<T>,
        command_id: &str,
        customer_id: &str,
        policy: Policy,
        command: impl FnOnce(CustomerId) -> Result<CustomerCommand, AppError>,
    ) -> Result<Option<common::CommandResult>, Status> {
        let caller = caller(request)?;
        let customer_id: CustomerId = request::id("customer_id", customer_id)?;
        policy(caller, &customer_id)?;
        let context = request::context(request, caller, command_id)?;
        let command = command(customer_id)?;
        let result = self
            .handler
            .execute(&context, &customer_id, command)
            .await?;
        Ok(Some(result.into()))
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
            .execute(&request, &body.command_id, &body.customer_id, OWNER, |_| {
                Ok(CustomerCommand::DepositBalance {
                    amount: request::money("amount", body.amount.as_ref())?,
                    at: Utc::now(),
                })
            })
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
