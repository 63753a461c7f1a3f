//! The gRPC services, one file per bounded context: each turns requests into domain commands,
//! checks who may send them, and hands them to the generic [`CommandHandler`].
//!
//! What every command RPC does before deciding is written once here, in [`Commands`]:
//! `authorize` (who calls, may they, which aggregate, the command's context) and `execute`
//! (that, then the command on the handler). A service declares its aggregate and id field once, and per RPC
//! only its [`Policy`] and how it builds the command.

use aggregates::Aggregate;
use proto::common;
use tonic::{Request, Status};
use uuid::Uuid;

use crate::{
    auth::{Caller, Denied, caller},
    error::AppError,
    handler::{CommandContext, CommandHandler, CommandResult},
    request,
};

pub mod cart;
pub mod customer;
pub mod order;
pub mod payment;
pub mod product;

impl From<CommandResult> for common::CommandResult {
    fn from(result: CommandResult) -> Self {
        Self {
            stream_id: result.stream_id.to_string(),
            version: result.version,
            position: result.position,
        }
    }
}

/// Who may send a command to an aggregate whose id is an `Id`.
pub(crate) enum Policy<Id> {
    /// Decided on the caller alone (a role), before the id is read: a caller without the role
    /// is refused whatever id it sent.
    Caller(fn(&Caller) -> Result<(), Denied>),
    /// Decided on the caller and the aggregate's id (a customer's own account or cart), once
    /// the id is known to be well formed.
    Target(fn(&Caller, &Id) -> Result<(), Denied>),
}

/// The account or cart's owner, another service of the shop (the checkout process manager
/// clears carts and credits refunds), or an admin: a [`Policy::Target`] for ids that name a
/// customer.
pub(crate) fn owner_or_service(
    caller: &Caller,
    customer_id: &aggregates::CustomerId,
) -> Result<(), Denied> {
    caller
        .require_service()
        .or_else(|_| caller.require_customer(customer_id))
}

/// A command service over one aggregate: what [`Commands::execute`] needs to know of it.
pub(crate) trait Commands: Sync {
    /// The aggregate the service's commands act on.
    type Aggregate: Aggregate<
            Id: From<Uuid> + Copy + Send + Sync,
            State: Send + Sync,
            Command: Clone + Send,
            Error: Into<AppError>,
        > + 'static;
    /// The request field holding the aggregate's id, as errors name it.
    const ID_FIELD: &'static str;

    /// The handler executing the commands.
    fn handler(&self) -> &CommandHandler<Self::Aggregate>;

    /// The checks every command RPC runs first, in this order: an authenticated caller, a
    /// [`Policy::Caller`], the aggregate's id (the request's [`ID_FIELD`](Self::ID_FIELD)), a
    /// [`Policy::Target`], and the command's context (command id, fingerprint, correlation).
    /// Returns the aggregate's id and that context.
    fn authorize<T: prost::Name>(
        &self,
        request: &Request<T>,
        command_id: &str,
        id: &str,
        policy: Policy<AggregateId<Self>>,
    ) -> Result<(AggregateId<Self>, CommandContext), AppError> {
        let caller = caller(request)?;
        if let Policy::Caller(policy) = policy {
            policy(caller)?;
        }
        let id: AggregateId<Self> = request::id(Self::ID_FIELD, id)?;
        if let Policy::Target(policy) = policy {
            policy(caller, &id)?;
        }
        let context = request::context(request, caller, command_id)?;
        Ok((id, context))
    }

    /// [`authorize`](Self::authorize)s the request for aggregate `id`, builds its command from
    /// the parsed id with `command`, and executes it: the whole of an RPC that needs nothing but
    /// the request.
    async fn execute<T: prost::Name>(
        &self,
        request: &Request<T>,
        command_id: &str,
        id: &str,
        policy: Policy<AggregateId<Self>>,
        command: impl FnOnce(AggregateId<Self>) -> Result<AggregateCommand<Self>, AppError> + Send,
    ) -> Result<Option<common::CommandResult>, Status> {
        let (id, context) = self.authorize(request, command_id, id, policy)?;
        let command = command(id)?;
        let result = self.handler().execute(&context, &id, command).await?;
        Ok(Some(result.into()))
    }
}

/// The id type of a service's aggregate.
type AggregateId<S> = <<S as Commands>::Aggregate as Aggregate>::Id;
/// The command type of a service's aggregate.
type AggregateCommand<S> = <<S as Commands>::Aggregate as Aggregate>::Command;
