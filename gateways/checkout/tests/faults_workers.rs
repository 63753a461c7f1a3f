//! The fault suite (`docs/faults.md`), the relay and the read side's servers: the relay, the
//! query service and the HTTP API each SIGKILLed under load and started again. Clients see
//! `UNAVAILABLE` / 503 (and refused connections while the HTTP API itself is down) and nothing
//! else; afterwards every acknowledged command has its events in the log, every purchase settles
//! and every read model equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_killed_under_load_loses_nothing() {
    FaultSuite::survive_alone(Fault::Kill("relay")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_query_service_killed_under_load_loses_nothing() {
    FaultSuite::survive_alone(Fault::Kill("query")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_http_api_killed_under_load_loses_nothing() {
    FaultSuite::survive_alone(Fault::Kill("http")).await;
}
