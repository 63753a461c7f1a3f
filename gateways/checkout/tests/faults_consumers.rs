//! The fault suite (`docs/faults.md`), the broker's consumers: the projection workers, then the
//! checkout process manager, SIGKILLed under load and started again. Commands keep being
//! acknowledged; afterwards every acknowledged command has its events in the log, every
//! purchase settles (none stuck past its deadline) and every read model equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_projection_workers_killed_under_load_leave_nothing_stuck() {
    FaultSuite::survive_alone(Fault::Kill("projections")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_process_manager_killed_under_load_leaves_nothing_stuck() {
    FaultSuite::survive_alone(Fault::Kill("checkout")).await;
}
