//! The checkout process manager (`docs/checkout.md`): `commerce-checkout run`.
//!
//! It consumes the order and payment topics as its own consumer group ([`startup`]), turns the
//! events a checkout follows into inputs ([`observe`]), records each in the checkout's stream
//! and sends what the pure `aggregates::checkout::pending` derives from it ([`manager`]), as
//! gRPC commands and provider calls with deterministic command ids ([`send`]). Deadlines are
//! rows polled by every replica ([`deadlines`]).
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

pub mod deadlines;
pub mod manager;
pub mod metrics;
pub mod observe;
pub mod send;
pub mod startup;
#[cfg(feature = "testing")]
pub mod testing;

pub use manager::{Manager, ManagerError};
pub use startup::{App, StartupError};
