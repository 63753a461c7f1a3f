//! ProductCommands and ProductStock: happy paths, invalid arguments, unknown ids, rules.

use std::collections::BTreeMap;

use command::ServiceKind;
use proto::product::*;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::*;

/// A created product with one SKU holding `stock` items.
pub struct Catalog {
    pub product_id: Uuid,
    pub sku_id: Uuid,
}

pub async fn product_with_stock(app: &TestApp, stock: u32) -> Catalog {
    let admin = app.admin();
    let mut client = app.products();
    let product_id = Uuid::new_v4();
    let sku_id = Uuid::new_v4();
    client
        .create_product(authed(
            CreateProductRequest {
                command_id: cid(),
                product_id: product_id.to_string(),
                title: "Tea pot".into(),
                description: "Cast iron".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    client
        .add_sku(authed(
            AddSkuRequest {
                command_id: cid(),
                product_id: product_id.to_string(),
                sku_id: sku_id.to_string(),
                price: eur(2_500),
                attributes: BTreeMap::from([("colour".into(), "black".into())]),
            },
            &admin,
        ))
        .await
        .unwrap();
    if stock > 0 {
        client
            .restock_sku(authed(restock(product_id, sku_id, stock), &admin))
            .await
            .unwrap();
    }
    Catalog { product_id, sku_id }
}

pub fn restock(product_id: Uuid, sku_id: Uuid, quantity: u32) -> RestockSkuRequest {
    RestockSkuRequest {
        command_id: cid(),
        product_id: product_id.to_string(),
        sku_id: sku_id.to_string(),
        quantity,
    }
}

pub fn reserve(catalog: &Catalog, reservation_id: Uuid, quantity: u32) -> ReserveStockRequest {
    ReserveStockRequest {
        command_id: cid(),
        product_id: catalog.product_id.to_string(),
        reservation_id: reservation_id.to_string(),
        items: vec![StockLine {
            sku_id: catalog.sku_id.to_string(),
            quantity,
        }],
    }
}

pub async fn availability(app: &TestApp, catalog: &Catalog) -> GetSkuAvailabilityResponse {
    app.stock()
        .get_sku_availability(authed(
            GetSkuAvailabilityRequest {
                product_id: catalog.product_id.to_string(),
                sku_id: catalog.sku_id.to_string(),
            },
            &app.service(),
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_product_command_appends_one_event_and_returns_the_new_version() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 10).await;
    let (admin, service) = (app.admin(), app.service());
    let mut client = app.products();
    let product = catalog.product_id.to_string();

    let first = Uuid::new_v4();
    let reserved = client
        .reserve_stock(authed(reserve(&catalog, first, 4), &service))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(reserved.result).version, 3);
    let released = client
        .release_stock(authed(
            ReleaseStockRequest {
                command_id: cid(),
                product_id: product.clone(),
                reservation_id: first.to_string(),
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(released.result).version, 4);

    let second = Uuid::new_v4();
    client
        .reserve_stock(authed(reserve(&catalog, second, 3), &service))
        .await
        .unwrap();
    let committed = client
        .commit_stock(authed(
            CommitStockRequest {
                command_id: cid(),
                product_id: product.clone(),
                reservation_id: second.to_string(),
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(committed.result).version, 6);

    let seen = availability(&app, &catalog).await;
    assert_eq!((seen.on_hand, seen.reserved, seen.available), (7, 0, 7));
    assert!(seen.on_sale);
    assert_eq!(seen.title, "Tea pot");
    assert_eq!(seen.price, eur(2_500));
    assert_eq!(seen.attributes["colour"], "black");
    assert_eq!(seen.version, 6);

    client
        .discontinue_sku(authed(
            DiscontinueSkuRequest {
                command_id: cid(),
                product_id: product.clone(),
                sku_id: catalog.sku_id.to_string(),
            },
            &admin,
        ))
        .await
        .unwrap();
    assert!(!availability(&app, &catalog).await.on_sale);
    let discontinued = client
        .discontinue_product(authed(
            DiscontinueProductRequest {
                command_id: cid(),
                product_id: product.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let last = result_of(discontinued.result);
    assert_eq!(last.stream_id, format!("product-{product}"));
    assert_eq!(last.version, 8);

    let types: Vec<String> = app
        .events(&last.stream_id)
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            "ProductCreated",
            "SkuAdded",
            "SkuRestocked",
            "StockReserved",
            "StockReleased",
            "StockReserved",
            "StockCommitted",
            "SkuDiscontinued",
            "ProductDiscontinued"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_product_commands_are_invalid_arguments() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 5).await;
    let (admin, service) = (app.admin(), app.service());
    let mut client = app.products();
    let before = app.db.event_count().await;

    assert_code(
        client
            .restock_sku(authed(
                restock(catalog.product_id, catalog.sku_id, 0),
                &admin,
            ))
            .await,
        Code::InvalidArgument,
    );
    let mut bad_sku = restock(catalog.product_id, catalog.sku_id, 1);
    bad_sku.sku_id = "sku-1".into();
    assert_code(
        client.restock_sku(authed(bad_sku, &admin)).await,
        Code::InvalidArgument,
    );
    let mut empty = reserve(&catalog, Uuid::new_v4(), 1);
    empty.items.clear();
    assert_code(
        client.reserve_stock(authed(empty, &service)).await,
        Code::InvalidArgument,
    );
    let negative_price = AddSkuRequest {
        command_id: cid(),
        product_id: catalog.product_id.to_string(),
        sku_id: Uuid::new_v4().to_string(),
        price: eur(-1),
        attributes: BTreeMap::new(),
    };
    assert_code(
        client.add_sku(authed(negative_price, &admin)).await,
        Code::InvalidArgument,
    );
    let untitled = CreateProductRequest {
        command_id: cid(),
        product_id: Uuid::new_v4().to_string(),
        title: "  ".into(),
        description: String::new(),
    };
    assert_code(
        client.create_product(authed(untitled, &admin)).await,
        Code::InvalidArgument,
    );
    assert_eq!(app.db.event_count().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_products_skus_and_reservations_are_not_found() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 5).await;
    let (admin, service) = (app.admin(), app.service());
    let mut client = app.products();

    assert_code(
        client
            .restock_sku(authed(restock(Uuid::new_v4(), catalog.sku_id, 1), &admin))
            .await,
        Code::NotFound,
    );
    assert_code(
        client
            .restock_sku(authed(
                restock(catalog.product_id, Uuid::new_v4(), 1),
                &admin,
            ))
            .await,
        Code::NotFound,
    );
    assert_code(
        client
            .commit_stock(authed(
                CommitStockRequest {
                    command_id: cid(),
                    product_id: catalog.product_id.to_string(),
                    reservation_id: Uuid::new_v4().to_string(),
                },
                &service,
            ))
            .await,
        Code::NotFound,
    );
    for (product_id, sku_id) in [
        (Uuid::new_v4(), catalog.sku_id),
        (catalog.product_id, Uuid::new_v4()),
    ] {
        assert_code(
            app.stock()
                .get_sku_availability(authed(
                    GetSkuAvailabilityRequest {
                        product_id: product_id.to_string(),
                        sku_id: sku_id.to_string(),
                    },
                    &service,
                ))
                .await,
            Code::NotFound,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_rules_are_failed_preconditions_or_already_exists() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 5).await;
    let (admin, service) = (app.admin(), app.service());
    let mut client = app.products();

    let status = assert_code(
        client
            .reserve_stock(authed(reserve(&catalog, Uuid::new_v4(), 6), &service))
            .await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("insufficient stock"),
        "{status:?}"
    );

    let reservation = Uuid::new_v4();
    client
        .reserve_stock(authed(reserve(&catalog, reservation, 2), &service))
        .await
        .unwrap();
    assert_code(
        client
            .reserve_stock(authed(reserve(&catalog, reservation, 1), &service))
            .await,
        Code::AlreadyExists,
    );
    let release = || ReleaseStockRequest {
        command_id: cid(),
        product_id: catalog.product_id.to_string(),
        reservation_id: reservation.to_string(),
    };
    client
        .release_stock(authed(release(), &service))
        .await
        .unwrap();
    assert_code(
        client.release_stock(authed(release(), &service)).await,
        Code::FailedPrecondition,
    );
    let create_again = CreateProductRequest {
        command_id: cid(),
        product_id: catalog.product_id.to_string(),
        title: "Again".into(),
        description: String::new(),
    };
    assert_code(
        client.create_product(authed(create_again, &admin)).await,
        Code::AlreadyExists,
    );
    assert_eq!(availability(&app, &catalog).await.available, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returning_stock_puts_a_committed_reservation_back_once_and_only_for_services() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 5).await;
    let service = app.service();
    let mut client = app.products();
    let reservation = Uuid::new_v4();
    client
        .reserve_stock(authed(reserve(&catalog, reservation, 2), &service))
        .await
        .unwrap();
    let back = || ReturnStockRequest {
        command_id: cid(),
        product_id: catalog.product_id.to_string(),
        reservation_id: reservation.to_string(),
    };
    // Open, not committed: nothing to return.
    assert_code(
        client.return_stock(authed(back(), &service)).await,
        Code::FailedPrecondition,
    );
    client
        .commit_stock(authed(
            CommitStockRequest {
                command_id: cid(),
                product_id: catalog.product_id.to_string(),
                reservation_id: reservation.to_string(),
            },
            &service,
        ))
        .await
        .unwrap();
    assert_eq!(availability(&app, &catalog).await.available, 3);
    let customer = app.customer(Uuid::new_v4());
    assert_code(
        client.return_stock(authed(back(), &customer)).await,
        Code::PermissionDenied,
    );
    let malformed = ReturnStockRequest {
        reservation_id: "nope".into(),
        ..back()
    };
    assert_code(
        client.return_stock(authed(malformed, &service)).await,
        Code::InvalidArgument,
    );
    client.return_stock(authed(back(), &service)).await.unwrap();
    assert_eq!(availability(&app, &catalog).await.available, 5);
    assert_code(
        client.return_stock(authed(back(), &service)).await,
        Code::FailedPrecondition,
    );
}
