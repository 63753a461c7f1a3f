//! CartCommands against a real product service: happy paths, invalid arguments, unknown SKUs,
//! business rules. The product service failing is in `dependencies`.

use command::ServiceKind;
use proto::{cart::*, product::DiscontinueSkuRequest};
use tonic::Code;
use uuid::Uuid;

use crate::{
    helpers::*,
    product::{Catalog, product_with_stock},
};

pub fn add(customer: Uuid, catalog: &Catalog, quantity: u32) -> AddItemRequest {
    AddItemRequest {
        command_id: cid(),
        customer_id: customer.to_string(),
        product_id: catalog.product_id.to_string(),
        sku_id: catalog.sku_id.to_string(),
        quantity,
    }
}

pub fn change(customer: Uuid, catalog: &Catalog, quantity: u32) -> ChangeQuantityRequest {
    ChangeQuantityRequest {
        command_id: cid(),
        customer_id: customer.to_string(),
        sku_id: catalog.sku_id.to_string(),
        quantity,
    }
}

pub fn remove(customer: Uuid, catalog: &Catalog) -> RemoveItemRequest {
    RemoveItemRequest {
        command_id: cid(),
        customer_id: customer.to_string(),
        sku_id: catalog.sku_id.to_string(),
    }
}

pub fn clear(customer: Uuid) -> ClearRequest {
    ClearRequest {
        command_id: cid(),
        customer_id: customer.to_string(),
    }
}

pub fn cart_stream(customer: Uuid) -> String {
    format!("cart-{customer}")
}

/// A catalog entry that is never created: unknown to the product service.
pub fn unknown_catalog() -> Catalog {
    Catalog {
        product_id: Uuid::new_v4(),
        sku_id: Uuid::new_v4(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cart_command_appends_one_event_and_returns_the_new_version() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 10).await;
    let me = Uuid::new_v4();
    let token = app.customer(me);
    let mut carts = app.carts();

    let added = carts
        .add_item(authed(add(me, &catalog, 2), &token))
        .await
        .unwrap()
        .into_inner();
    let added = result_of(added.result);
    assert_eq!(added.stream_id, cart_stream(me));
    assert_eq!(added.version, 0);
    let version = |response: Option<proto::common::CommandResult>| result_of(response).version;
    let more = carts
        .add_item(authed(add(me, &catalog, 3), &token))
        .await
        .unwrap();
    assert_eq!(version(more.into_inner().result), 1);
    let raised = carts
        .change_quantity(authed(change(me, &catalog, 8), &token))
        .await
        .unwrap();
    assert_eq!(version(raised.into_inner().result), 2);
    let lowered = carts
        .change_quantity(authed(change(me, &catalog, 1), &token))
        .await
        .unwrap();
    assert_eq!(version(lowered.into_inner().result), 3);
    let same = carts
        .change_quantity(authed(change(me, &catalog, 1), &token))
        .await
        .unwrap();
    assert_eq!(version(same.into_inner().result), 3, "no change, no event");
    let removed = carts
        .remove_item(authed(remove(me, &catalog), &token))
        .await
        .unwrap();
    assert_eq!(version(removed.into_inner().result), 4);
    carts
        .add_item(authed(add(me, &catalog, 1), &token))
        .await
        .unwrap();
    let cleared = carts.clear(authed(clear(me), &token)).await.unwrap();
    assert_eq!(version(cleared.into_inner().result), 6);

    assert_eq!(
        app.event_types(&cart_stream(me)).await,
        [
            "CartItemAdded",
            "CartItemAdded",
            "CartItemQuantityChanged",
            "CartItemQuantityChanged",
            "CartItemRemoved",
            "CartItemAdded",
            "CartCleared",
        ]
    );
    // The line's facts came from the product service, not from the request.
    let events = app.events(&cart_stream(me)).await;
    let first = &events[0].data;
    assert_eq!(first["title"], "Tea pot");
    assert_eq!(first["unit_price"]["amount_minor"], 2_500);
    assert_eq!(first["unit_price"]["currency"], "EUR");
    assert_eq!(first["product_id"], catalog.product_id.to_string());
    assert_eq!(events[1].data["line_quantity"], 5);
    assert_eq!(events[0].metadata.actor.as_deref(), Some(&*me.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_without_asking_the_product_service() {
    // The product service is unreachable: a malformed request must not wait for it.
    let endpoint = closed_port_url().await;
    let app = spawn_app_with(ServiceKind::Cart, |config| {
        config.dependencies.product_endpoint = endpoint;
    })
    .await;
    let me = Uuid::new_v4();
    let token = app.customer(me);
    let catalog = unknown_catalog();
    let mut carts = app.carts();
    let cases = [
        ("quantity 0", add(me, &catalog, 0)),
        ("quantity 100", add(me, &catalog, 100)),
        (
            "sku id",
            AddItemRequest {
                sku_id: "sku-1".into(),
                ..add(me, &catalog, 1)
            },
        ),
        (
            "product id",
            AddItemRequest {
                product_id: String::new(),
                ..add(me, &catalog, 1)
            },
        ),
        (
            "command id",
            AddItemRequest {
                command_id: "again".into(),
                ..add(me, &catalog, 1)
            },
        ),
    ];
    for (case, request) in cases {
        let status = assert_code(
            carts.add_item(authed(request, &token)).await,
            Code::InvalidArgument,
        );
        assert!(!status.message().is_empty(), "{case}");
    }
    assert_code(
        carts
            .change_quantity(authed(change(me, &catalog, 0), &token))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        carts
            .remove_item(authed(
                RemoveItemRequest {
                    sku_id: "nope".into(),
                    ..remove(me, &catalog)
                },
                &token,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        carts
            .clear(authed(
                ClearRequest {
                    customer_id: "42".into(),
                    ..clear(me)
                },
                &app.admin(),
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(app.db.event_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_products_skus_and_lines_are_not_found() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 10).await;
    let me = Uuid::new_v4();
    let token = app.customer(me);
    let mut carts = app.carts();

    let status = assert_code(
        carts
            .add_item(authed(add(me, &unknown_catalog(), 1), &token))
            .await,
        Code::NotFound,
    );
    assert!(status.message().contains("sku"), "{status:?}");
    let unknown_sku = Catalog {
        product_id: catalog.product_id,
        sku_id: Uuid::new_v4(),
    };
    assert_code(
        carts
            .add_item(authed(add(me, &unknown_sku, 1), &token))
            .await,
        Code::NotFound,
    );
    // Lines that are not in the cart.
    assert_code(
        carts
            .change_quantity(authed(change(me, &catalog, 2), &token))
            .await,
        Code::NotFound,
    );
    assert_code(
        carts
            .remove_item(authed(remove(me, &catalog), &token))
            .await,
        Code::NotFound,
    );
    assert!(app.events(&cart_stream(me)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_caps_and_sale_status_are_failed_preconditions() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 120).await;
    let me = Uuid::new_v4();
    let token = app.customer(me);
    let mut carts = app.carts();

    carts
        .add_item(authed(add(me, &catalog, 60), &token))
        .await
        .unwrap();
    // 60 + 60 > 99 items on one line.
    let status = assert_code(
        carts.add_item(authed(add(me, &catalog, 60), &token)).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("more than 99"), "{status:?}");

    // More than the product service says is available.
    let other = Uuid::new_v4();
    let scarce = product_with_stock(&app, 3).await;
    let status = assert_code(
        carts
            .add_item(authed(add(other, &scarce, 4), &app.customer(other)))
            .await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("insufficient stock"),
        "{status:?}"
    );
    carts
        .add_item(authed(add(other, &scarce, 2), &app.customer(other)))
        .await
        .unwrap();
    assert_code(
        carts
            .change_quantity(authed(change(other, &scarce, 4), &app.customer(other)))
            .await,
        Code::FailedPrecondition,
    );

    // A discontinued SKU can be neither added nor raised, but still lowered and removed.
    app.products()
        .discontinue_sku(authed(
            DiscontinueSkuRequest {
                command_id: cid(),
                product_id: catalog.product_id.to_string(),
                sku_id: catalog.sku_id.to_string(),
            },
            &app.admin(),
        ))
        .await
        .unwrap();
    let status = assert_code(
        carts.add_item(authed(add(me, &catalog, 1), &token)).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("not on sale"), "{status:?}");
    assert_code(
        carts
            .change_quantity(authed(change(me, &catalog, 61), &token))
            .await,
        Code::FailedPrecondition,
    );
    carts
        .change_quantity(authed(change(me, &catalog, 59), &token))
        .await
        .unwrap();
    assert_eq!(app.events(&cart_stream(me)).await.len(), 2);
    assert_eq!(app.events(&cart_stream(other)).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_a_cart_never_used_is_not_found_and_clearing_an_empty_one_changes_nothing() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 10).await;
    let me = Uuid::new_v4();
    let token = app.customer(me);
    let mut carts = app.carts();

    let status = assert_code(carts.clear(authed(clear(me), &token)).await, Code::NotFound);
    assert!(
        status.message().contains("cart does not exist"),
        "{status:?}"
    );

    carts
        .add_item(authed(add(me, &catalog, 1), &token))
        .await
        .unwrap();
    let cleared = carts.clear(authed(clear(me), &token)).await.unwrap();
    let cleared = result_of(cleared.into_inner().result);
    assert_eq!(cleared.version, 1);
    let again = carts.clear(authed(clear(me), &token)).await.unwrap();
    let again = result_of(again.into_inner().result);
    assert_eq!(again, cleared, "an empty cart answers its current version");
    assert_eq!(app.events(&cart_stream(me)).await.len(), 2);
}
