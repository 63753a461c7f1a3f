//! A payment provider simulator (`commerce-payment-provider`, `docs/payments.md`): the
//! Stripe-like provider a checkout paid by `PAYMENT_METHOD_EXTERNAL` is collected by, locally and
//! in tests.
//!
//! The process manager creates charges and refunds ([`routes`]: `POST /v1/charges`,
//! `POST /v1/refunds`, idempotent per `Idempotency-Key`); some time later the simulator answers
//! each with signed callbacks to our webhook ([`delivery`]: `Commerce-Signature` under the first
//! of `payments.webhook_secrets`, retried with backoff until a `2xx`). Tests and demos script
//! the answer per order (`PUT /v1/scripts/{order_id}`: approve or decline, a delay, duplicated
//! or out-of-order callbacks) and read back what was sent (`GET /v1/deliveries`). Everything is
//! kept in memory ([`books`]): a restart forgets every charge.
//!
//! # Configuration
//!
//! The `[payments]` section of the shared settings ([`ProviderConfig`]): `simulator_listen`
//! (`--listen ADDR` beats it), `simulator_webhook_url`, `webhook_secrets`, `simulator_delay_ms`.
#![forbid(unsafe_code)]

pub mod books;
pub mod config;
pub mod delivery;
pub mod error;
pub mod routes;
pub mod startup;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ProviderConfig, RetryPolicy};
pub use error::ProviderError;
pub use startup::{App, BuildError};
