//! The shop's HTTP read API (`commerce-http`): JSON over the gRPC query services, for browsers,
//! scripts and anything that does not speak gRPC; and the payment provider's webhook
//! ([`routes::webhooks`], `docs/payments.md`), the one route that writes: a signed callback
//! becomes one payment command.
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
//! The `[http]`, `[auth]` and `[payments]` sections of the shared settings (`APP_HTTP__LISTEN`,
//! `APP_HTTP__QUERY_ENDPOINT`, `APP_HTTP__QUERY_TIMEOUT_MS`, `APP_AUTH__…`,
//! `APP_PAYMENTS__WEBHOOK_SECRETS`, `APP_PAYMENTS__WEBHOOK_TOLERANCE_SECS`,
//! `APP_PAYMENTS__PAYMENT_ENDPOINT`), tabled in the README's settings table; [`HttpConfig`] is
//! what the gateway takes of them. `--listen ADDR` overrides the address.
//!
//! # Running
//!
//! ```text
//! cargo run -p http-api --bin commerce-http -- --listen 127.0.0.1:8080
//! TOKEN=$(cargo run -q -p auth --bin commerce-token -- <customer-uuid> customer)
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

pub mod config;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod service_token;
pub mod startup;
pub mod state;

pub use config::{AuthConfig, HttpConfig, WebhookConfig};
pub use error::ApiError;
pub use routes::router;
pub use startup::{App, StartupError};
pub use state::AppState;
