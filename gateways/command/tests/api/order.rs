//! OrderCommands: the whole life of an order, placing from the cart stream, invalid arguments,
//! unknown orders, state-machine violations.

use aggregates::{
    Aggregate, CustomerId, DomainEvent, Order, OrderId, ProductId, SkuId,
    cart::CartEvent,
    money::{Currency, Money},
    order::{OrderCommand, OrderLine, OrderState},
};
use chrono::Utc;
use command::ServiceKind;
use event_store::{EventMetadata, ExpectedVersion, NewEvent, StreamId};
use proto::order::*;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::*;

/// Appends `events` to `customer`'s cart stream directly (the cart service is tested on its
/// own) and returns the cart's version.
pub async fn seed_cart(app: &TestApp, customer: Uuid, events: &[CartEvent]) -> u64 {
    seed(
        app,
        &format!("cart-{customer}"),
        ExpectedVersion::Any,
        events,
    )
    .await
}

/// Appends `events` to `stream` as a service would (fresh ids, no metadata); the new version.
async fn seed<E: DomainEvent>(
    app: &TestApp,
    stream: &str,
    expected: ExpectedVersion,
    events: &[E],
) -> u64 {
    let batch: Vec<NewEvent> = events
        .iter()
        .map(|event| NewEvent {
            event_id: Uuid::new_v4(),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            data: event.to_data(),
            metadata: EventMetadata::default(),
        })
        .collect();
    let stream = StreamId::parse(stream).unwrap();
    app.store
        .append(&stream, expected, &batch)
        .await
        .unwrap()
        .current_version
}

/// Places order `order` of `customer` directly in the log (one line of 2 × 25.00 EUR), as the
/// order service would: for services that need an existing order (payments).
pub async fn seed_order(app: &TestApp, order: Uuid, customer: Uuid) {
    let command = OrderCommand::PlaceOrder {
        order_id: OrderId(order),
        customer_id: CustomerId(customer),
        lines: vec![OrderLine {
            product_id: ProductId(Uuid::new_v4()),
            sku_id: SkuId(Uuid::new_v4()),
            title: "Tea pot".into(),
            unit_price: Money::new(2_500, Currency::EUR),
            quantity: 2,
        }],
        at: Utc::now(),
    };
    let placed = Order::decide(&OrderState::NotPlaced, command).unwrap();
    seed(
        app,
        &format!("order-{order}"),
        ExpectedVersion::NoStream,
        &placed,
    )
    .await;
}

/// `quantity` items of a new SKU at `price` EUR cents, added to `customer`'s cart.
pub fn line(customer: Uuid, price: i64, quantity: u32) -> CartEvent {
    CartEvent::CartItemAdded {
        customer_id: CustomerId(customer),
        product_id: ProductId(Uuid::new_v4()),
        sku_id: SkuId(Uuid::new_v4()),
        title: "Tea pot".into(),
        unit_price: Money::new(price, Currency::EUR),
        quantity,
        line_quantity: quantity,
        at: Utc::now(),
    }
}

pub fn place(order: Uuid, customer: Uuid) -> PlaceOrderRequest {
    PlaceOrderRequest {
        command_id: cid(),
        order_id: order.to_string(),
        customer_id: customer.to_string(),
        expected_cart_version: None,
    }
}

pub fn mark_stock_reserved(order: Uuid) -> MarkStockReservedRequest {
    MarkStockReservedRequest {
        command_id: cid(),
        order_id: order.to_string(),
    }
}

pub fn mark_paid(order: Uuid, payment: Uuid, amount: i64) -> MarkPaidRequest {
    MarkPaidRequest {
        command_id: cid(),
        order_id: order.to_string(),
        payment_id: payment.to_string(),
        amount: eur(amount),
    }
}

pub fn cancel(order: Uuid) -> CancelRequest {
    CancelRequest {
        command_id: cid(),
        order_id: order.to_string(),
        reason: "changed my mind".into(),
    }
}

fn ship(order: Uuid) -> ShipRequest {
    ShipRequest {
        command_id: cid(),
        order_id: order.to_string(),
    }
}

fn refund(order: Uuid) -> RefundRequest {
    RefundRequest {
        command_id: cid(),
        order_id: order.to_string(),
        reason: "returned".into(),
    }
}

fn order_stream(order: Uuid) -> String {
    format!("order-{order}")
}

/// An order app and a customer whose cart holds 2 × 1250 + 1 × 500 EUR cents (total 3000).
async fn customer_with_cart() -> (TestApp, Uuid) {
    let app = spawn_app(ServiceKind::Order).await;
    let customer = Uuid::new_v4();
    seed_cart(
        &app,
        customer,
        &[line(customer, 1_250, 2), line(customer, 500, 1)],
    )
    .await;
    (app, customer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_placed_from_the_cart_and_goes_through_its_whole_life() {
    let (app, customer) = customer_with_cart().await;
    let service = app.service();
    let order = Uuid::new_v4();
    let payment = Uuid::new_v4();
    let mut orders = app.orders();

    let placed = orders
        .place_order(authed(place(order, customer), &app.customer(customer)))
        .await
        .unwrap()
        .into_inner();
    let placed = result_of(placed.result);
    assert_eq!(
        (placed.stream_id.as_str(), placed.version),
        (&*order_stream(order), 0)
    );
    let reserved = orders
        .mark_stock_reserved(authed(mark_stock_reserved(order), &service))
        .await
        .unwrap();
    assert_eq!(result_of(reserved.into_inner().result).version, 1);
    let paid = orders
        .mark_paid(authed(mark_paid(order, payment, 3_000), &service))
        .await
        .unwrap();
    assert_eq!(result_of(paid.into_inner().result).version, 2);
    let shipped = orders.ship(authed(ship(order), &service)).await.unwrap();
    assert_eq!(result_of(shipped.into_inner().result).version, 3);
    let refunded = orders
        .refund(authed(refund(order), &app.admin()))
        .await
        .unwrap();
    assert_eq!(result_of(refunded.into_inner().result).version, 4);

    let events = app.events(&order_stream(order)).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderStockReserved",
            "OrderPaid",
            "OrderShipped",
            "OrderRefunded"
        ]
    );
    // Lines and prices come from the cart stream.
    let placed = &events[0].data;
    assert_eq!(placed["customer_id"], customer.to_string());
    assert_eq!(placed["lines"].as_array().unwrap().len(), 2);
    assert_eq!(placed["total"]["amount_minor"], 3_000);
    assert_eq!(events[4].data["payment_id"], payment.to_string());
    assert_eq!(events[4].data["shipped"], true);
    // The cart is read, not changed.
    assert_eq!(app.events(&format!("cart-{customer}")).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_can_be_cancelled_until_paid_by_their_customer_or_a_service() {
    let (app, customer) = customer_with_cart().await;
    let token = app.customer(customer);
    let mut orders = app.orders();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    for order in [first, second] {
        orders
            .place_order(authed(place(order, customer), &token))
            .await
            .unwrap();
    }
    orders.cancel(authed(cancel(first), &token)).await.unwrap();
    orders
        .mark_stock_reserved(authed(mark_stock_reserved(second), &app.service()))
        .await
        .unwrap();
    orders
        .cancel(authed(cancel(second), &app.service()))
        .await
        .unwrap();
    let cancelled = app.events(&order_stream(second)).await;
    assert_eq!(cancelled[2].event_type, "OrderCancelled");
    assert_eq!(cancelled[2].data["stock_reserved"], true);
    // Cancelled is final.
    assert_code(
        orders.cancel(authed(cancel(first), &token)).await,
        Code::FailedPrecondition,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_machine_refuses_commands_out_of_order() {
    let (app, customer) = customer_with_cart().await;
    let service = app.service();
    let order = Uuid::new_v4();
    let mut orders = app.orders();
    orders
        .place_order(authed(place(order, customer), &app.customer(customer)))
        .await
        .unwrap();

    // Placing the same order id again (a new command, not a retry).
    let status = assert_code(
        orders
            .place_order(authed(place(order, customer), &app.customer(customer)))
            .await,
        Code::AlreadyExists,
    );
    assert!(status.message().contains("order"), "{status:?}");
    let status = assert_code(
        orders.ship(authed(ship(order), &service)).await,
        Code::FailedPrecondition,
    );
    assert!(
        status
            .message()
            .contains("cannot ship order in status placed"),
        "{status:?}"
    );
    assert_code(
        orders
            .mark_paid(authed(mark_paid(order, Uuid::new_v4(), 3_000), &service))
            .await,
        Code::FailedPrecondition,
    );
    assert_code(
        orders.refund(authed(refund(order), &service)).await,
        Code::FailedPrecondition,
    );
    orders
        .mark_stock_reserved(authed(mark_stock_reserved(order), &service))
        .await
        .unwrap();
    // Only exactly the total pays the order.
    let status = assert_code(
        orders
            .mark_paid(authed(mark_paid(order, Uuid::new_v4(), 2_999), &service))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("does not match"), "{status:?}");
    orders
        .mark_paid(authed(mark_paid(order, Uuid::new_v4(), 3_000), &service))
        .await
        .unwrap();
    // Once shipped, only a refund undoes the order (cancelling a paid order before shipping
    // refunds it: `a_customer_cancelling_a_paid_order_refunds_it_but_not_once_shipped`).
    orders.ship(authed(ship(order), &service)).await.unwrap();
    assert_code(
        orders
            .cancel(authed(cancel(order), &app.customer(customer)))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(app.events(&order_stream(order)).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placing_an_order_needs_a_cart_with_lines_at_the_version_the_customer_saw() {
    let app = spawn_app(ServiceKind::Order).await;
    let customer = Uuid::new_v4();
    let token = app.customer(customer);
    let mut orders = app.orders();

    let status = assert_code(
        orders
            .place_order(authed(place(Uuid::new_v4(), customer), &token))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("cart is empty"), "{status:?}");

    let seen = seed_cart(&app, customer, &[line(customer, 700, 1)]).await;
    seed_cart(
        &app,
        customer,
        &[CartEvent::CartCleared {
            customer_id: CustomerId(customer),
            at: Utc::now(),
        }],
    )
    .await;
    assert_code(
        orders
            .place_order(authed(place(Uuid::new_v4(), customer), &token))
            .await,
        Code::FailedPrecondition,
    );
    let now = seed_cart(&app, customer, &[line(customer, 900, 2)]).await;
    let stale = PlaceOrderRequest {
        expected_cart_version: Some(seen),
        ..place(Uuid::new_v4(), customer)
    };
    let status = assert_code(
        orders.place_order(authed(stale, &token)).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("cart changed"), "{status:?}");
    let order = Uuid::new_v4();
    let current = PlaceOrderRequest {
        expected_cart_version: Some(now),
        ..place(order, customer)
    };
    orders.place_order(authed(current, &token)).await.unwrap();
    let placed = app.events(&order_stream(order)).await;
    assert_eq!(placed[0].data["total"]["amount_minor"], 1_800);
    assert_eq!(app.db.event_count().await, 4, "3 cart events and 1 order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_order_requests_are_invalid_and_unknown_orders_not_found() {
    let (app, customer) = customer_with_cart().await;
    let (token, service) = (app.customer(customer), app.service());
    let mut orders = app.orders();
    let order = Uuid::new_v4();

    for request in [
        PlaceOrderRequest {
            order_id: "o-1".into(),
            ..place(order, customer)
        },
        PlaceOrderRequest {
            command_id: String::new(),
            ..place(order, customer)
        },
    ] {
        assert_code(
            orders.place_order(authed(request, &token)).await,
            Code::InvalidArgument,
        );
    }
    assert_code(
        orders
            .place_order(authed(
                PlaceOrderRequest {
                    customer_id: "me".into(),
                    ..place(order, customer)
                },
                &app.admin(),
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        orders
            .mark_paid(authed(
                MarkPaidRequest {
                    amount: None,
                    ..mark_paid(order, Uuid::new_v4(), 1)
                },
                &service,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        orders
            .mark_paid(authed(
                MarkPaidRequest {
                    payment_id: "p".into(),
                    ..mark_paid(order, Uuid::new_v4(), 1)
                },
                &service,
            ))
            .await,
        Code::InvalidArgument,
    );

    // Unknown orders.
    let status = assert_code(
        orders
            .mark_stock_reserved(authed(mark_stock_reserved(order), &service))
            .await,
        Code::NotFound,
    );
    assert!(
        status.message().contains("order does not exist"),
        "{status:?}"
    );
    assert_code(
        orders.cancel(authed(cancel(order), &token)).await,
        Code::NotFound,
    );
    assert_code(
        orders.ship(authed(ship(order), &service)).await,
        Code::NotFound,
    );

    // A reason is required once the order exists.
    orders
        .place_order(authed(place(order, customer), &token))
        .await
        .unwrap();
    assert_code(
        orders
            .cancel(authed(
                CancelRequest {
                    reason: "  ".into(),
                    ..cancel(order)
                },
                &token,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(app.events(&order_stream(order)).await.len(), 1);
}

fn checkout(order: Uuid, customer: Uuid, method: proto::payment::PaymentMethod) -> CheckoutRequest {
    CheckoutRequest {
        command_id: cid(),
        order_id: order.to_string(),
        customer_id: customer.to_string(),
        expected_cart_version: None,
        payment_method: method.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_places_the_order_with_its_payment_method_for_the_process_manager() {
    use proto::payment::PaymentMethod as Method;
    let (app, customer) = customer_with_cart().await;
    let token = app.customer(customer);
    let mut orders = app.orders();
    let order = Uuid::new_v4();
    let request = checkout(order, customer, Method::External);
    let placed = orders
        .checkout(authed(request.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(placed.result).stream_id, order_stream(order));
    // The same request again: the same answer, nothing new.
    orders.checkout(authed(request, &token)).await.unwrap();
    let events = app.events(&order_stream(order)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "OrderPlaced");
    assert_eq!(events[0].data["payment_method"], "external");
    assert_eq!(events[0].data["total"]["amount_minor"], 3_000);

    // An order placed by hand carries no payment method: no checkout starts on it.
    let by_hand = Uuid::new_v4();
    orders
        .place_order(authed(place(by_hand, customer), &token))
        .await
        .unwrap();
    let events = app.events(&order_stream(by_hand)).await;
    assert!(events[0].data.get("payment_method").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_refuses_malformed_foreign_and_conflicting_requests() {
    use proto::payment::PaymentMethod as Method;
    let (app, customer) = customer_with_cart().await;
    let token = app.customer(customer);
    let mut orders = app.orders();

    let unspecified = checkout(Uuid::new_v4(), customer, Method::Unspecified);
    let status = assert_code(
        orders.checkout(authed(unspecified, &token)).await,
        Code::InvalidArgument,
    );
    assert!(status.message().contains("payment_method"), "{status:?}");
    let unknown_method = CheckoutRequest {
        payment_method: 42,
        ..checkout(Uuid::new_v4(), customer, Method::Balance)
    };
    assert_code(
        orders.checkout(authed(unknown_method, &token)).await,
        Code::InvalidArgument,
    );
    let bad_id = CheckoutRequest {
        order_id: "not-a-uuid".into(),
        ..checkout(Uuid::new_v4(), customer, Method::Balance)
    };
    assert_code(
        orders.checkout(authed(bad_id, &token)).await,
        Code::InvalidArgument,
    );
    // Someone else's cart.
    let stranger = app.customer(Uuid::new_v4());
    assert_code(
        orders
            .checkout(authed(
                checkout(Uuid::new_v4(), customer, Method::Balance),
                &stranger,
            ))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        orders
            .checkout(tonic::Request::new(checkout(
                Uuid::new_v4(),
                customer,
                Method::Balance,
            )))
            .await,
        Code::Unauthenticated,
    );
    // A cart that changed since the customer saw it.
    let stale = CheckoutRequest {
        expected_cart_version: Some(0),
        ..checkout(Uuid::new_v4(), customer, Method::Balance)
    };
    assert_code(
        orders.checkout(authed(stale, &token)).await,
        Code::FailedPrecondition,
    );
    // An order id that is taken.
    let taken = Uuid::new_v4();
    orders
        .checkout(authed(checkout(taken, customer, Method::Balance), &token))
        .await
        .unwrap();
    assert_code(
        orders
            .checkout(authed(checkout(taken, customer, Method::Balance), &token))
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(
        app.db.event_count().await,
        3,
        "2 cart events and the one order: nothing else written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cancelling_a_paid_order_refunds_it_but_not_once_shipped() {
    let (app, customer) = customer_with_cart().await;
    let token = app.customer(customer);
    let service = app.service();
    let mut orders = app.orders();
    let (order, shipped) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [order, shipped] {
        orders
            .place_order(authed(place(id, customer), &token))
            .await
            .unwrap();
        orders
            .mark_stock_reserved(authed(mark_stock_reserved(id), &service))
            .await
            .unwrap();
        orders
            .mark_paid(authed(mark_paid(id, Uuid::new_v4(), 3_000), &service))
            .await
            .unwrap();
    }
    orders.cancel(authed(cancel(order), &token)).await.unwrap();
    let events = app.events(&order_stream(order)).await;
    assert_eq!(events[3].event_type, "OrderRefunded");
    assert_eq!(events[3].data["shipped"], false);
    orders.ship(authed(ship(shipped), &service)).await.unwrap();
    assert_code(
        orders.cancel(authed(cancel(shipped), &token)).await,
        Code::FailedPrecondition,
    );
}
