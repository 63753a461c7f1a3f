//! The fault suite (`docs/faults.md`), storage: PostgreSQL stopped as by a crash and started
//! again (committed transactions survive: fsync on); Redis restarted without persistence,
//! so every Redis read model is lost. Clients see `UNAVAILABLE` / 503 meanwhile and never a
//! wrong answer; afterwards every acknowledged command has its events in the log, every
//! purchase settles and every read model — the lost ones rebuilt — equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_crash_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_that_lost_everything_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Redis).await;
}
