//! The fault suite (`docs/faults.md`), the relay and the read side's servers: the relay, the
//! query service and the HTTP API each SIGKILLed under load and started again. Clients see
//! `UNAVAILABLE` / 503 (and refused connections while the HTTP API itself is down) and nothing
//! else; afterwards every acknowledged command has its events in the log, every purchase settles
//! and every read model equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_the_query_service_and_the_http_api_killed_under_load_leave_nothing_lost() {
    let mut suite = FaultSuite::start().await;
    for role in ["relay", "query", "http"] {
        suite.survive(Fault::Kill(role)).await;
    }
    suite.finish();
}
