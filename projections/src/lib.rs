//! Projection workers: consume the events the relay fans out through RocketMQ and maintain the
//! Redis and PostgreSQL read models, effectively once.
//!
//! - [`projection`]: the contract between the runtime and the read models;
//! - [`runtime`]: consumer groups, the per-stream version markers, retries, parking, rebuilds;
//! - [`read_models`]: the read models themselves, one file each.
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

pub mod projection;
pub mod read_models;
pub mod runtime;
#[cfg(feature = "testing")]
pub mod testing;

pub use projection::{
    KeySpace, PostgresProjection, Projection, ProjectionError, RedisProjection, RedisWrite,
};
