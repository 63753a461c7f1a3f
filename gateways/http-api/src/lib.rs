//! The shop's HTTP read API (`commerce-http`): JSON over the gRPC query services, for browsers,
//! scripts and anything that does not speak gRPC.
//!
//! A request travels: [`middleware`] (request id, span, size and time limits, one log line,
//! error bodies) → a handler in [`routes`], whose extractors ([`extract`]) check the bearer
//! token (401 before any gRPC call), the consistency header and the parameters ([`params`]) →
//! one gRPC call on the shared lazy channel ([`state::AppState::call`]) carrying the same
//! `authorization` header, the request id as `x-request-id` and a deadline → the answer as JSON
//! (the generated `proto::query` messages themselves), or an [`error::ApiError`] mapped
//! from the gRPC status in exactly one place. [`openapi`] describes it all, generated from the
//! handlers.
//!
//! # Configuration
//!
//! `APP_…` variables, read by [`HttpConfig::from_env`] from a map (so tests never touch the
//! process environment):
//!
//! | variable | default |
//! |---|---|
//! | `APP_STAGE` | `local` (`local`, `k8s` or `prod`; outside `local` a JWT secret must be set) |
//! | `APP_HTTP__LISTEN` | `127.0.0.1:8080`; the `--listen ADDR` flag overrides it |
//! | `APP_HTTP__QUERY_ENDPOINT` | `http://127.0.0.1:50060`: the one gRPC endpoint of all five query services |
//! | `APP_HTTP__QUERY_TIMEOUT_MS` | 5000: deadline of each gRPC call; must exceed the services' 2 s consistency wait |
//! | `APP_AUTH__JWT_SECRET` | a development secret, refused outside the `local` stage; at least 32 bytes |
//! | `APP_AUTH__ISSUER` | `commerce` |
//!
//! # Running
//!
//! ```text
//! cargo run -p http-api --bin commerce-http -- --listen 127.0.0.1:8080
//! TOKEN=$(cargo run -q -p command --bin commerce-token -- <customer-uuid> customer)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/me
//! curl http://127.0.0.1:8080/api/v1/openapi.json
//! ```
//!
//! The gateway starts without the query service (the channel connects lazily): `/healthz`
//! answers 200 at once, `/readyz` 503 until the query service's health check answers.
//!
//! Adding a route: a handler with `#[utoipa::path]` in the resource's file under `routes/` and
//! its `routes!` line in [`routes::api`], which serves it and documents it.
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

pub use config::{AuthConfig, ConfigError, HttpConfig};
pub use error::ApiError;
pub use routes::router;
pub use startup::{App, StartupError};
pub use state::AppState;
