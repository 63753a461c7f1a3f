//! The fault suite (`docs/faults.md`), command services: each of the five gRPC command services
//! SIGKILLed under load and started again. Clients see `UNAVAILABLE` meanwhile and nothing else;
//! afterwards every acknowledged command has its events in the log, every purchase settles and
//! every read model equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_command_service_killed_under_load_loses_no_acknowledged_write() {
    let mut suite = FaultSuite::start().await;
    for service in ["customer", "product", "cart", "order", "payment"] {
        suite.survive(Fault::Kill(service)).await;
    }
    suite.finish();
}
