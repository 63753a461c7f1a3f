//! The five services together over one event log, driven by hand the way the checkout saga
//! will drive them: the cart's prices become the order total, which the payment must match.

use command::ServiceKind;
use proto::{
    customer::{
        DebitBalanceRequest, DepositBalanceRequest, RegisterRequest,
        customer_commands_client::CustomerCommandsClient,
    },
    order::{PlaceOrderRequest, order_commands_client::OrderCommandsClient},
    payment::payment_commands_client::PaymentCommandsClient,
    product::{CommitStockRequest, ReserveStockRequest, StockLine},
};
use uuid::Uuid;

use crate::{cart, helpers::*, order, payment, product::product_with_stock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_checks_out_a_cart_through_all_five_services() {
    let app = spawn_cart().await;
    let customers_server = Server::start(ServiceKind::Customer, &app.db, |_| {}).await;
    let orders_server = Server::start(ServiceKind::Order, &app.db, |_| {}).await;
    let payments_server = Server::start(ServiceKind::Payment, &app.db, |_| {}).await;
    let mut customers = CustomerCommandsClient::new(customers_server.channel.clone());
    let mut carts = app.carts();
    let mut orders = OrderCommandsClient::new(orders_server.channel.clone());
    let mut payments = PaymentCommandsClient::new(payments_server.channel.clone());
    let catalog = product_with_stock(&app, 10).await;
    let (buyer, service) = (Uuid::new_v4(), app.service());
    let me = app.customer(buyer);

    customers
        .register(authed(
            RegisterRequest {
                command_id: cid(),
                customer_id: buyer.to_string(),
                email: "ada@example.com".into(),
                name: "Ada".into(),
                currency: "EUR".into(),
            },
            &me,
        ))
        .await
        .unwrap();
    customers
        .deposit_balance(authed(
            DepositBalanceRequest {
                command_id: cid(),
                customer_id: buyer.to_string(),
                amount: eur(10_000),
            },
            &me,
        ))
        .await
        .unwrap();

    carts
        .add_item(authed(cart::add(buyer, &catalog, 1), &me))
        .await
        .unwrap();
    let seen = carts
        .add_item(authed(cart::add(buyer, &catalog, 1), &me))
        .await
        .unwrap()
        .into_inner();
    let order_id = Uuid::new_v4();
    orders
        .place_order(authed(
            PlaceOrderRequest {
                expected_cart_version: Some(result_of(seen.result).version),
                ..order::place(order_id, buyer)
            },
            &me,
        ))
        .await
        .unwrap();

    // Stock, then payment: 2 × 2500 from the product service's price.
    app.products()
        .reserve_stock(authed(
            ReserveStockRequest {
                command_id: cid(),
                product_id: catalog.product_id.to_string(),
                reservation_id: order_id.to_string(),
                items: vec![StockLine {
                    sku_id: catalog.sku_id.to_string(),
                    quantity: 2,
                }],
            },
            &service,
        ))
        .await
        .unwrap();
    orders
        .mark_stock_reserved(authed(order::mark_stock_reserved(order_id), &service))
        .await
        .unwrap();
    let payment_id = Uuid::new_v4();
    payments
        .initiate(authed(
            proto::payment::InitiateRequest {
                order_id: order_id.to_string(),
                ..payment::initiate(payment_id, buyer, 5_000)
            },
            &me,
        ))
        .await
        .unwrap();
    customers
        .debit_balance(authed(
            DebitBalanceRequest {
                command_id: cid(),
                customer_id: buyer.to_string(),
                payment_id: payment_id.to_string(),
                amount: eur(5_000),
            },
            &service,
        ))
        .await
        .unwrap();
    payments
        .capture(authed(payment::capture(payment_id), &service))
        .await
        .unwrap();
    orders
        .mark_paid(authed(
            order::mark_paid(order_id, payment_id, 5_000),
            &service,
        ))
        .await
        .unwrap();
    carts
        .clear(authed(cart::clear(buyer), &service))
        .await
        .unwrap();
    app.products()
        .commit_stock(authed(
            CommitStockRequest {
                command_id: cid(),
                product_id: catalog.product_id.to_string(),
                reservation_id: order_id.to_string(),
            },
            &service,
        ))
        .await
        .unwrap();

    assert_eq!(
        app.event_types(&format!("order-{order_id}")).await,
        ["OrderPlaced", "OrderStockReserved", "OrderPaid"]
    );
    assert_eq!(
        app.event_types(&format!("payment-{payment_id}")).await,
        ["PaymentInitiated", "PaymentCaptured"]
    );
    assert_eq!(
        app.event_types(&format!("cart-{buyer}")).await,
        ["CartItemAdded", "CartItemAdded", "CartCleared"]
    );
    let debited = app.events(&format!("customer-{buyer}")).await;
    assert_eq!(debited.last().unwrap().event_type, "BalanceDebited");
    assert_eq!(
        debited.last().unwrap().data["balance"]["amount_minor"],
        5_000
    );
    let stock = crate::product::availability(&app, &catalog).await;
    assert_eq!((stock.on_hand, stock.reserved), (8, 0));
}
