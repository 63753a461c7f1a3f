//! Clients of the other services a command service asks synchronously before it decides.
//!
//! Every call has a deadline, carries the caller's correlation id and a `service`-role token
//! minted with the configured secret, and turns any failure to get an answer into
//! [`AppError::DependencyUnavailable`](crate::error::AppError::DependencyUnavailable)
//! (`UNAVAILABLE`), so the command changes nothing and the client retries later.

pub mod product;

pub use product::{ProductClient, SkuFacts};
