//! Hostile input against every method of the query server (`commerce.query.v1` and
//! `commerce.audit.v1`): random bytes, truncated messages and frames, bodies over the size limit,
//! malformed frame headers and well-formed messages with out-of-range values
//! ([`server::testing`]), sent raw with an admin's token so that they reach decoding and the
//! handlers.
//!
//! Each must get a gRPC status that refuses the input (never `INTERNAL`, `UNKNOWN` or a reset
//! stream), and the log must be as it was. The methods come from the contract's descriptors and
//! the services from the server's reflection: a query or audit method added later is fuzzed
//! without a change here, and a service of those packages the server does not serve fails the
//! test.

use std::{collections::BTreeSet, time::Duration};

use projections::testing::all_events;
use query::testing::{World, admin};
use server::testing::{Budget, Contract, Tally, call, served_services};

/// The message size limit `query::testing::World` gives its query server.
const LIMIT: usize = 16 * 1024;

/// The packages the query process serves.
const PACKAGES: &[&str] = &["commerce.query.v1", "commerce.audit.v1"];

#[tokio::test]
async fn every_query_method_refuses_hostile_input_without_a_server_error_or_a_write() {
    // A short consistency bound: a fuzzed consistency token waits at most that long.
    let world = World::start(Duration::from_millis(20)).await;
    let contract = Contract::new(proto::FILE_DESCRIPTOR_SET);
    let admin = admin();
    let events = all_events(&world.log.store).await.len();

    let served: BTreeSet<String> = served_services(&world.channel).await.into_iter().collect();
    let methods = contract.methods(PACKAGES);
    let in_contract: BTreeSet<String> = methods.iter().map(|m| m.service.clone()).collect();
    let missed: Vec<_> = in_contract.difference(&served).collect();
    assert!(
        missed.is_empty(),
        "query services in the contract that the query server does not serve: {missed:?}"
    );

    let mut tally = Tally::default();
    for method in &methods {
        for hostile in contract.hostile_bodies(method, LIMIT, Budget::default()) {
            let outcome = call(&world.channel, method, &admin, hostile.body.clone()).await;
            tally.record(method, &hostile, &outcome, false);
        }
    }
    eprintln!("query services ({} methods): {tally}", methods.len());
    assert_eq!(
        all_events(&world.log.store).await.len(),
        events,
        "queries wrote to the log"
    );
    assert!(
        tally.failures().is_empty(),
        "{tally}\n{}",
        tally.failures().join("\n")
    );
}
