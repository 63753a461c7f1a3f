//! Hostile input against every method of every command service: random bytes, truncated
//! messages and frames, bodies over the size limit, malformed frame headers and well-formed
//! messages with out-of-range values ([`server::testing`]), sent raw with an admin's token (so
//! that they reach decoding and the handlers rather than stop at the access rules).
//!
//! Each must get a gRPC status that refuses the input (never `INTERNAL`, `UNKNOWN` or a reset
//! stream) and a refused request must leave the log as it was. The methods come from the
//! contract's descriptors and the services from each server's reflection, so a method or service
//! added later is fuzzed without a change here; a command service in the contract that no
//! process serves fails the test.

use std::collections::BTreeSet;

use command::{ServiceKind, testing::Server};
use event_store::testing::TestDatabase;
use server::testing::{Budget, Contract, Tally, call, served_services};

/// The message size limit `command::testing::config` gives the test servers.
const LIMIT: usize = 64 * 1024;

/// Packages of the contract that are not served by command services.
const NOT_COMMANDS: &[&str] = &[
    "commerce.common.v1",
    "commerce.query.v1",
    "commerce.audit.v1",
];

/// A server of `kind` over `db` (a cart beside the product service it asks).
async fn start(kind: ServiceKind, db: &TestDatabase) -> (Server, Option<Server>) {
    if kind != ServiceKind::Cart {
        return (Server::start(kind, db, |_| {}).await, None);
    }
    let product = Server::start(ServiceKind::Product, db, |_| {}).await;
    let endpoint = product.url();
    let cart = Server::start(ServiceKind::Cart, db, |config| {
        config.dependencies.product_endpoint = endpoint;
    })
    .await;
    (cart, Some(product))
}

/// Sends every hostile body to every method `server` serves (by reflection); returns the
/// services it serves and the tally.
async fn fuzz(contract: &Contract, db: &TestDatabase, server: &Server) -> (Vec<String>, Tally) {
    let admin = auth::testing::token("alice", &[auth::ROLE_ADMIN]);
    let services = served_services(&server.channel).await;
    let mut tally = Tally::default();
    let methods = contract
        .all_methods()
        .iter()
        .filter(|method| services.contains(&method.service));
    for method in methods {
        for hostile in contract.hostile_bodies(method, LIMIT, Budget::default()) {
            let before = db.event_count().await;
            let outcome = call(&server.channel, method, &admin, hostile.body.clone()).await;
            let wrote = db.event_count().await != before;
            tally.record(method, &hostile, &outcome, wrote);
        }
    }
    (services, tally)
}

#[tokio::test]
async fn every_command_method_refuses_hostile_input_without_a_server_error_or_a_write() {
    let contract = Contract::new(proto::FILE_DESCRIPTOR_SET);
    let db = TestDatabase::create(10).await;
    let mut fuzzed = BTreeSet::new();
    let mut tally = Tally::default();
    for kind in ServiceKind::ALL {
        let (server, _product) = start(kind, &db).await;
        let (services, served_tally) = fuzz(&contract, &db, &server).await;
        eprintln!("{kind:?} ({}): {served_tally}", services.join(", "));
        fuzzed.extend(services);
        tally.merge(served_tally);
    }
    eprintln!("command services: {tally}");

    let in_contract: BTreeSet<String> = contract
        .all_methods()
        .iter()
        .map(|method| method.service.clone())
        .filter(|service| {
            !NOT_COMMANDS
                .iter()
                .any(|package| service.starts_with(&format!("{package}.")))
        })
        .collect();
    let missed: Vec<_> = in_contract.difference(&fuzzed).collect();
    assert!(
        missed.is_empty(),
        "command services in the contract that no command process serves, so nothing fuzzed: \
         {missed:?}"
    );
    assert!(
        tally.failures().is_empty(),
        "{tally}\n{}",
        tally.failures().join("\n")
    );
}

/// Health, which every process serves beside its own services (`server::grpc`), refuses hostile
/// input as the shop's own methods do: a body that is not one `HealthCheckRequest` is the
/// client's fault, never `INTERNAL`.
#[tokio::test]
async fn health_refuses_hostile_input_without_a_server_error() {
    let contract = Contract::new(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let db = TestDatabase::create(2).await;
    let server = Server::start(ServiceKind::Customer, &db, |_| {}).await;
    let mut tally = Tally::default();
    for method in contract.all_methods() {
        for hostile in contract.hostile_bodies(method, LIMIT, Budget::default()) {
            let outcome = call(&server.channel, method, "", hostile.body.clone()).await;
            tally.record(method, &hostile, &outcome, false);
        }
    }
    eprintln!("health: {tally}");
    assert!(tally.total() > 0, "health's Check was fuzzed");
    assert!(
        tally.failures().is_empty(),
        "{tally}\n{}",
        tally.failures().join("\n")
    );
}
