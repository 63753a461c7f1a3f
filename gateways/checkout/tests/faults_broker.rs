//! The fault suite (`docs/faults.md`), RocketMQ: the broker, and the name server, each SIGKILLed
//! under load and started again (same ports, same store), one test each so each stays within the
//! suite's 5-minute bound. Commands keep being acknowledged (they need only the log); purchases
//! wait for the broker and then complete; afterwards every acknowledged command has its events
//! in the log, every purchase settles and every read model equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_broker_killed_under_load_delays_purchases_but_loses_nothing() {
    FaultSuite::survive_alone(Fault::Broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_name_server_killed_under_load_delays_purchases_but_loses_nothing() {
    FaultSuite::survive_alone(Fault::NameServer).await;
}
