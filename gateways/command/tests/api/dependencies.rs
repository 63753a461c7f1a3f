//! The cart when the product service it asks is unreachable, stopped, or never answers: the
//! command fails `UNAVAILABLE` within the deadline, and the cart is left unchanged.

use std::time::{Duration, Instant};

use command::ServiceKind;
use tonic::Code;
use uuid::Uuid;

use crate::{
    cart::{add, cart_stream, change, remove, unknown_catalog},
    helpers::*,
    product::product_with_stock,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_product_port_is_unavailable_and_leaves_the_cart_unchanged() {
    let endpoint = closed_port_url().await;
    let app = spawn_app_with(ServiceKind::Cart, |config| {
        config.dependencies.product_endpoint = endpoint;
    })
    .await;
    let me = Uuid::new_v4();
    let status = assert_code(
        app.carts()
            .add_item(authed(add(me, &unknown_catalog(), 1), &app.customer(me)))
            .await,
        Code::Unavailable,
    );
    assert!(
        status
            .message()
            .starts_with("product service unavailable: "),
        "{status:?}"
    );
    assert_eq!(app.db.event_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_product_service_is_unavailable_and_leaves_the_cart_unchanged() {
    let mut app = spawn_cart().await;
    let catalog = product_with_stock(&app, 10).await;
    let me = Uuid::new_v4();
    let token = app.customer(me);
    let mut carts = app.carts();
    let first = add(me, &catalog, 4);
    let added = carts
        .add_item(authed(first.clone(), &token))
        .await
        .unwrap()
        .into_inner();

    app.product.take().expect("a product server").stop().await;

    let status = assert_code(
        carts.add_item(authed(add(me, &catalog, 1), &token)).await,
        Code::Unavailable,
    );
    assert!(
        status
            .message()
            .starts_with("product service unavailable: "),
        "{status:?}"
    );
    assert_code(
        carts
            .change_quantity(authed(change(me, &catalog, 5), &token))
            .await,
        Code::Unavailable,
    );
    assert_eq!(app.events(&cart_stream(me)).await.len(), 1);

    // What needs no stock facts still works, and a retry of a command that already ran gets
    // its original answer without asking the product service.
    let retried = carts
        .add_item(authed(first, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, added);
    carts
        .change_quantity(authed(change(me, &catalog, 2), &token))
        .await
        .unwrap();
    carts
        .remove_item(authed(remove(me, &catalog), &token))
        .await
        .unwrap();
    assert_eq!(
        app.event_types(&cart_stream(me)).await,
        [
            "CartItemAdded",
            "CartItemQuantityChanged",
            "CartItemRemoved"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_service_that_never_answers_fails_within_the_deadline() {
    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);
    let app = spawn_app_with(ServiceKind::Cart, |config| {
        config.dependencies.product_endpoint = format!("http://{address}");
        config.dependencies.timeout = timeout;
    })
    .await;
    let me = Uuid::new_v4();
    let started = Instant::now();
    let status = assert_code(
        app.carts()
            .add_item(authed(add(me, &unknown_catalog(), 1), &app.customer(me)))
            .await,
        Code::Unavailable,
    );
    let elapsed = started.elapsed();
    assert_eq!(
        status.message(),
        "product service unavailable: no answer within 300 ms"
    );
    assert!(elapsed >= timeout, "gave up early: {elapsed:?}");
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "waited past the deadline: {elapsed:?}"
    );
    assert_eq!(app.db.event_count().await, 0);
    held.abort();
}
