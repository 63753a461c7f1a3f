//! The gRPC command side of the shop: one process per bounded context (`commerce-command
//! <customer|product|cart|order|payment>`), each a thin adapter around the pure aggregates.
//!
//! A command travels: interceptor ([`auth`]: bearer token → [`auth::Caller`]) → service
//! ([`services`]: request → domain command, who-may-do-what) → [`handler::CommandHandler`]
//! (load and fold the stream, look the command id up, decide, append with the expected version,
//! retry on conflict) → [`handler::CommandResult`], the consistency token every response
//! carries. Errors become gRPC statuses in exactly one place ([`error`]).
//!
//! A command that needs facts from another context asks that context's service synchronously
//! through a client in [`clients`] (the cart asks the product service about a SKU), with a
//! deadline; when it cannot get an answer the command fails `UNAVAILABLE` and changes nothing.
//!
//! Adding a context: a service file under `services/` implementing the generated trait over a
//! `CommandHandler<TheAggregate>`, a [`config::ServiceKind`] variant, and its arm in `startup.rs`
//! (`context_services`).
#![forbid(unsafe_code)]

pub mod auth;
pub mod clients;
pub mod config;
pub mod error;
pub mod handler;
pub mod request;
pub mod services;
pub mod startup;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{AuthConfig, CommandConfig, DependencyConfig, ServiceKind};
pub use error::AppError;
pub use handler::{CommandContext, CommandHandler, CommandResult};
pub use startup::App;
