//! The server plumbing every process of the shop shares, written once: the command and query
//! services, the HTTP gateway, the relay and the projection workers all start the same way.
//!
//! - [`cli::parse`]: `[--listen ADDR] [-h|--help]`, the command line every server takes;
//! - [`telemetry::init`]: `tracing` to stdout, filtered by `RUST_LOG`, first thing in `main`;
//! - [`shutdown::signal`]: completes on SIGINT or SIGTERM, the end of `run_until_stopped`;
//! - [`listener::bind`]: the process's listen address, with the real port when asked for port 0;
//! - [`grpc::GrpcServices`]: a gRPC server's own services plus `grpc.health.v1.Health` and
//!   server reflection (v1 and v1alpha), every service reported serving; each of the process's own
//!   services behind [`framing::OneMessage`] (a request body must be one complete frame);
//! - [`StartupError`]: why a process could not start;
//! - [`MetricsServer`]: `GET /metrics` (Prometheus text) and `GET /healthz` over HTTP;
//! - `testing` (feature `testing`): hostile request bodies for any of the gRPC servers.
#![forbid(unsafe_code)]

pub mod cli;
pub mod error;
pub mod framing;
pub mod grpc;
pub mod listener;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StartupError;
pub use grpc::GrpcServices;
pub use metrics::{Counter, Gauge, Histogram, MetricsServer, Registry};
