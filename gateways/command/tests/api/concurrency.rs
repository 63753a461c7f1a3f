//! Many writers on one aggregate: optimistic concurrency, no lost updates, no overselling.
//!
//! The writers go through several replicas of the service over one database. Inside one process
//! commands on an aggregate queue behind an in-process lock, so one server alone would serialize
//! them and never exercise the expected-version check; across replicas only that check stands
//! between two writers (with `ExpectedVersion::Any` in the handler these tests fail).

use command::ServiceKind;
use futures::future::join_all;
use proto::{
    cart::cart_commands_client::CartCommandsClient,
    product::product_commands_client::ProductCommandsClient,
};
use tonic::Code;
use uuid::Uuid;

use crate::{
    cart,
    helpers::*,
    product::{availability, product_with_stock, reserve},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_reservations_never_oversell_or_lose_an_update() {
    const STOCK: u32 = 25;
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, STOCK).await;
    let service = app.service();
    let (_replicas, channels) = app.replicas(3).await;
    // 20 reservations of 1..=3 items (40 in all) on one SKU with 25 in stock, over 4 replicas.
    let quantities: Vec<u32> = (0..20).map(|i| 1 + i % 3).collect();
    let outcomes = join_all(quantities.iter().enumerate().map(|(i, &quantity)| {
        let mut client = ProductCommandsClient::new(channels[i % channels.len()].clone());
        let request = authed(reserve(&catalog, Uuid::new_v4(), quantity), &service);
        async move { (quantity, client.reserve_stock(request).await) }
    }))
    .await;

    let mut granted = 0;
    let mut versions = Vec::new();
    for (quantity, outcome) in outcomes {
        match outcome {
            Ok(response) => {
                granted += quantity;
                versions.push(result_of(response.into_inner().result).version);
            }
            Err(status) => assert!(
                matches!(status.code(), Code::FailedPrecondition | Code::Aborted),
                "a reservation failed uncleanly: {status:?}"
            ),
        }
    }
    versions.sort_unstable();
    versions.dedup();
    let seen = availability(&app, &catalog).await;
    assert!(granted <= STOCK, "oversold: {granted} of {STOCK}");
    assert_eq!(seen.reserved, granted, "the folded state lost an update");
    assert_eq!(seen.available, STOCK - granted);
    let reservations = app
        .events(&format!("product-{}", catalog.product_id))
        .await
        .into_iter()
        .filter(|e| e.event_type == "StockReserved")
        .count();
    assert_eq!(
        versions.len(),
        reservations,
        "each success has its own version"
    );
    assert!(reservations > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_that_keep_losing_the_race_are_aborted_and_write_nothing() {
    // One attempt only: every writer that loses the race gives up at once. Commands on one
    // aggregate queue up inside a process, so the race is between replicas: ten product
    // services over one database, one request each.
    let app = spawn_app_with(ServiceKind::Product, |config| config.max_attempts = 1).await;
    let catalog = product_with_stock(&app, 1_000).await;
    let service = app.service();
    let mut replicas = Vec::new();
    for _ in 0..10 {
        replicas.push(Server::start(ServiceKind::Product, &app.db, |c| c.max_attempts = 1).await);
    }
    let outcomes = join_all(replicas.iter().map(|replica| {
        let mut client = ProductCommandsClient::new(replica.channel.clone());
        let request = authed(reserve(&catalog, Uuid::new_v4(), 1), &service);
        async move { client.reserve_stock(request).await }
    }))
    .await;
    let mut granted = 0;
    for outcome in outcomes {
        match outcome {
            Ok(_) => granted += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::Aborted, "{status:?}");
                assert!(status.message().contains("kept changing"), "{status:?}");
            }
        }
    }
    assert!(granted >= 1);
    assert_eq!(availability(&app, &catalog).await.reserved, granted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_changes_to_one_cart_lose_no_update() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 1_000).await;
    let customer = Uuid::new_v4();
    let token = app.customer(customer);
    let (_replicas, channels) = app.replicas(3).await;
    // 20 additions of 1..=4 items to the same line over 4 replicas: each conflicts with others.
    let quantities: Vec<u32> = (0..20).map(|i| 1 + i % 4).collect();
    let outcomes = join_all(quantities.iter().enumerate().map(|(i, &quantity)| {
        let mut client = CartCommandsClient::new(channels[i % channels.len()].clone());
        let request = authed(cart::add(customer, &catalog, quantity), &token);
        async move { (quantity, client.add_item(request).await) }
    }))
    .await;

    let mut added = 0;
    let mut versions = Vec::new();
    for (quantity, outcome) in outcomes {
        match outcome {
            Ok(response) => {
                added += quantity;
                versions.push(result_of(response.into_inner().result).version);
            }
            Err(status) => assert_eq!(
                status.code(),
                Code::Aborted,
                "an addition failed uncleanly: {status:?}"
            ),
        }
    }
    let events = app.events(&format!("cart-{customer}")).await;
    assert!(!events.is_empty());
    versions.sort_unstable();
    let expected: Vec<u64> = (0..events.len() as u64).collect();
    assert_eq!(versions, expected, "each success has its own version");
    let line = events
        .iter()
        .map(|event| event.data["quantity"].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(line, u64::from(added), "an addition was lost");
    assert_eq!(
        events.last().unwrap().data["line_quantity"],
        u64::from(added),
        "the folded line lost an update"
    );
}
