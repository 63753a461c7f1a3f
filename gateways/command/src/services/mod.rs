//! The gRPC services, one file per bounded context: each turns requests into domain commands,
//! checks who may send them, and hands them to the generic [`CommandHandler`].
//!
//! [`CommandHandler`]: crate::handler::CommandHandler

use proto::common;

use crate::handler::CommandResult;

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
