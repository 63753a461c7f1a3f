//! The gRPC read side of the shop (`commerce-query`): six query services —
//! `commerce.query.v1.{CatalogQueries, CustomerQueries, CartQueries, OrderQueries,
//! PaymentQueries, CheckoutQueries}` — answered only from the read models the projection workers
//! build (Redis: `catalog`, `cart_view`; PostgreSQL: `customers`, `orders`, `payments`,
//! `checkouts`), never from the log.
//!
//! A query travels: interceptor (bearer token → [`auth::Caller`]) → [`services`] (checks
//! the arguments and who may read what) → optionally [`consistency::Markers::wait`] (the
//! read-your-writes token) → [`cache::VersionedCache`] or the read model's reader → the
//! message of [`convert`]. Errors become gRPC statuses in one place ([`error`]).
//!
//! Invariants:
//! - A query with a consistency token `(stream, v)` is answered only from data that includes
//!   version `v` of `stream`: the service first waits until the answering read model's version
//!   marker for `stream` is at least `v`, then reads; a cached entry is used only when it was
//!   filled at a marker version of at least `v` for that same stream.
//! - The cache never replaces an entry with one filled at an older version.
#![forbid(unsafe_code)]

pub mod audit;
pub mod cache;
pub mod config;
pub mod consistency;
pub mod convert;
pub mod error;
pub mod services;
pub mod startup;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::QueryConfig;
pub use error::QueryError;
pub use startup::App;
