//! The shop's HTTP read API (`commerce-http`): JSON over the gRPC query services, for browsers,
//! scripts and anything that does not speak gRPC.
//!
//! A request travels: [`middleware`] (request id, span, size and time limits, one log line,
//! error bodies) → a handler in [`routes`], whose extractors ([`extract`]) check the bearer
//! token (401 before any gRPC call), the consistency header and the parameters ([`params`]) →
//! one gRPC call on the shared lazy channel ([`state::AppState::call`]) carrying the same
//! `authorization` header, the request id as `x-request-id` and a deadline → the answer as JSON
//! (the generated `commerce_proto::query` messages themselves), or an [`error::ApiError`] mapped
//! from the gRPC status in exactly one place. [`openapi`] describes it all, generated from the
//! handlers.
//!
//! Configuration: see [`config`] (`APP_HTTP__LISTEN`, `APP_HTTP__QUERY_ENDPOINT`,
//! `APP_HTTP__QUERY_TIMEOUT_MS`, `APP_AUTH__JWT_SECRET`, `APP_AUTH__ISSUER`).
//!
//! Adding a route: a handler with `#[utoipa::path]` in the resource's file under `routes/`, its
//! line in [`routes::router`] and in the `paths(…)` of [`openapi::ApiDoc`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::{AuthConfig, ConfigError, HttpConfig};
pub use error::ApiError;
pub use routes::router;
pub use startup::{App, StartupError};
pub use state::AppState;
