//! Given/when/then tests of the order aggregate and its state machine.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::{
    error::ErrorKind,
    event::DomainEvent,
    ids::{PaymentId, ProductId, SkuId},
    money::Currency,
    payment::PaymentMethod,
    testing,
};

const ORDER: OrderId = OrderId(Uuid::from_u128(1));
const BUYER: CustomerId = CustomerId(Uuid::from_u128(2));
const PAYMENT: PaymentId = PaymentId(Uuid::from_u128(3));
const PRODUCT: ProductId = ProductId(Uuid::from_u128(10));
const SHIRT: SkuId = SkuId(Uuid::from_u128(11));
const SOCKS: SkuId = SkuId(Uuid::from_u128(12));

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, second).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn given(events: impl IntoIterator<Item = OrderEvent>) -> testing::Given<Order> {
    testing::given(events)
}

fn line(sku_id: SkuId, unit_price: Money, quantity: u32) -> OrderLine {
    OrderLine {
        product_id: PRODUCT,
        sku_id,
        title: "Item".into(),
        unit_price,
        quantity,
    }
}

fn place(lines: Vec<OrderLine>) -> OrderCommand {
    OrderCommand::PlaceOrder {
        order_id: ORDER,
        customer_id: BUYER,
        lines,
        at: at(0),
    }
}

fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        order_id: ORDER,
        customer_id: BUYER,
        lines: vec![
            PricedLine {
                product_id: PRODUCT,
                sku_id: SHIRT,
                title: "Item".into(),
                unit_price: eur(1500),
                quantity: 2,
                line_total: eur(3000),
            },
            PricedLine {
                product_id: PRODUCT,
                sku_id: SOCKS,
                title: "Item".into(),
                unit_price: eur(250),
                quantity: 4,
                line_total: eur(1000),
            },
        ],
        total: eur(4000),
        payment_method: None,
        at: at(0),
    }
}

fn stock_reserved() -> OrderEvent {
    OrderEvent::OrderStockReserved {
        order_id: ORDER,
        at: at(1),
    }
}

fn paid() -> OrderEvent {
    OrderEvent::OrderPaid {
        order_id: ORDER,
        payment_id: PAYMENT,
        amount: eur(4000),
        at: at(2),
    }
}

fn shipped() -> OrderEvent {
    OrderEvent::OrderShipped {
        order_id: ORDER,
        at: at(3),
    }
}

fn cancelled(stock_reserved: bool) -> OrderEvent {
    OrderEvent::OrderCancelled {
        order_id: ORDER,
        reason: "changed my mind".into(),
        stock_reserved,
        at: at(4),
    }
}

fn refunded(shipped: bool) -> OrderEvent {
    OrderEvent::OrderRefunded {
        order_id: ORDER,
        payment_id: PAYMENT,
        amount: eur(4000),
        reason: "damaged".into(),
        shipped,
        at: at(5),
    }
}

fn mark_paid(amount: Money) -> OrderCommand {
    OrderCommand::MarkPaid {
        payment_id: PAYMENT,
        amount,
        at: at(2),
    }
}

fn cancel() -> OrderCommand {
    OrderCommand::Cancel {
        reason: "changed my mind".into(),
        at: at(4),
    }
}

fn refund() -> OrderCommand {
    OrderCommand::Refund {
        reason: "damaged".into(),
        at: at(5),
    }
}

/// The history that leaves the order in `status`.
fn history(status: OrderStatus) -> Vec<OrderEvent> {
    use OrderStatus::*;
    match status {
        Placed => vec![placed()],
        StockReserved => vec![placed(), stock_reserved()],
        Paid => vec![placed(), stock_reserved(), paid()],
        Shipped => vec![placed(), stock_reserved(), paid(), shipped()],
        Cancelled => vec![placed(), cancelled(false)],
        Refunded => vec![placed(), stock_reserved(), paid(), refunded(false)],
    }
}

const ALL: [OrderStatus; 6] = [
    OrderStatus::Placed,
    OrderStatus::StockReserved,
    OrderStatus::Paid,
    OrderStatus::Shipped,
    OrderStatus::Cancelled,
    OrderStatus::Refunded,
];

#[test]
fn place_order_prices_the_lines_and_computes_the_total() {
    let state = given([])
        .when(place(vec![
            line(SHIRT, eur(1500), 2),
            line(SOCKS, eur(250), 4),
        ]))
        .then([placed()]);
    let OrderState::Existing(order) = state else {
        panic!("not placed")
    };
    assert_eq!(order.status, OrderStatus::Placed);
    assert_eq!(order.total, eur(4000));
}

#[test]
fn place_order_twice_is_already_exists() {
    given([placed()])
        .when(place(vec![line(SHIRT, eur(1), 1)]))
        .then_error(DomainError::AlreadyExists {
            entity: "order",
            id: ORDER.to_string(),
        });
}

#[test]
fn place_order_needs_lines() {
    given([])
        .when(place(vec![]))
        .then_error(DomainError::Invalid {
            field: "lines",
            reason: "must not be empty",
        });
}

#[test]
fn place_order_needs_a_single_currency() {
    let error = given([])
        .when(place(vec![
            line(SHIRT, eur(1), 1),
            line(SOCKS, Money::new(1, Currency::USD), 1),
        ]))
        .result()
        .unwrap_err();
    assert_eq!(
        error,
        DomainError::MixedCurrencies {
            field: "lines",
            first: Currency::EUR,
            other: Currency::USD,
        }
    );
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn place_order_rejects_bad_lines() {
    given([])
        .when(place(vec![line(SHIRT, eur(1), 1), line(SHIRT, eur(1), 1)]))
        .then_error(DomainError::Invalid {
            field: "lines",
            reason: "must not repeat a sku",
        });
    given([])
        .when(place(vec![line(SHIRT, eur(1), 0)]))
        .then_error(DomainError::InvalidQuantity {
            field: "quantity",
            quantity: 0,
            min: 1,
            max: 99,
        });
    given([])
        .when(place(vec![line(SHIRT, eur(-1), 1)]))
        .then_error(DomainError::NonPositiveAmount {
            field: "unit_price",
            amount: eur(-1),
        });
    given([])
        .when(place(vec![line(SHIRT, eur(i64::MAX), 2)]))
        .then_error(DomainError::Overflow { what: "amount" });
}

#[test]
fn commands_before_placing_are_not_found() {
    for command in [
        OrderCommand::MarkStockReserved { at: at(1) },
        mark_paid(eur(4000)),
        OrderCommand::Ship { at: at(3) },
        cancel(),
        refund(),
    ] {
        given([])
            .when(command)
            .then_error(DomainError::NotCreated { entity: "order" });
    }
}

#[test]
fn the_happy_path_goes_placed_reserved_paid_shipped() {
    given(history(OrderStatus::Placed))
        .when(OrderCommand::MarkStockReserved { at: at(1) })
        .then([stock_reserved()]);
    given(history(OrderStatus::StockReserved))
        .when(mark_paid(eur(4000)))
        .then([paid()]);
    let state = given(history(OrderStatus::Paid))
        .when(OrderCommand::Ship { at: at(3) })
        .then([shipped()]);
    assert!(matches!(
        state,
        OrderState::Existing(OrderDetails {
            status: OrderStatus::Shipped,
            payment_id: Some(PAYMENT),
            ..
        })
    ));
}

#[test]
fn mark_paid_needs_exactly_the_total() {
    given(history(OrderStatus::StockReserved))
        .when(mark_paid(eur(3999)))
        .then_error(DomainError::AmountMismatch {
            expected: eur(4000),
            actual: eur(3999),
        });
    given(history(OrderStatus::StockReserved))
        .when(mark_paid(Money::new(4000, Currency::USD)))
        .then_error(DomainError::AmountMismatch {
            expected: eur(4000),
            actual: Money::new(4000, Currency::USD),
        });
}

#[test]
fn cancel_before_payment_says_whether_stock_was_reserved() {
    given(history(OrderStatus::Placed))
        .when(cancel())
        .then([cancelled(false)]);
    given(history(OrderStatus::StockReserved))
        .when(cancel())
        .then([cancelled(true)]);
}

#[test]
fn cancel_needs_a_reason() {
    given(history(OrderStatus::Placed))
        .when(OrderCommand::Cancel {
            reason: "".into(),
            at: at(4),
        })
        .then_error(DomainError::Invalid {
            field: "reason",
            reason: "must not be empty",
        });
}

#[test]
fn refund_after_payment_says_whether_it_had_shipped() {
    given(history(OrderStatus::Paid))
        .when(refund())
        .then([refunded(false)]);
    given(history(OrderStatus::Shipped))
        .when(refund())
        .then([refunded(true)]);
}

/// Every (status, command) pair outside the diagram is an illegal transition.
#[test]
fn every_transition_outside_the_state_machine_is_rejected() {
    use OrderStatus::*;
    let commands: [(&str, OrderCommand, &[OrderStatus]); 5] = [
        (
            "mark stock reserved",
            OrderCommand::MarkStockReserved { at: at(1) },
            &[Placed],
        ),
        ("mark paid", mark_paid(eur(4000)), &[StockReserved]),
        ("ship", OrderCommand::Ship { at: at(3) }, &[Paid]),
        ("cancel", cancel(), &[Placed, StockReserved, Paid]),
        ("refund", refund(), &[Paid, Shipped]),
    ];
    let mut rejected = 0;
    for (action, command, allowed) in commands {
        for status in ALL {
            let outcome = given(history(status)).when(command.clone()).result();
            if allowed.contains(&status) {
                assert!(outcome.is_ok(), "{action} from {status:?}");
            } else {
                rejected += 1;
                let error = outcome.unwrap_err();
                assert_eq!(
                    error,
                    DomainError::IllegalTransition {
                        entity: "order",
                        status: status.as_str(),
                        action,
                    }
                );
                assert_eq!(error.kind(), ErrorKind::FailedPrecondition);
            }
        }
    }
    assert_eq!(rejected, 5 * 6 - 8);
}

#[test]
fn every_event_round_trips_through_storage() {
    let events = [
        placed(),
        stock_reserved(),
        paid(),
        shipped(),
        cancelled(true),
        refunded(true),
    ];
    for event in events {
        let data = event.to_data();
        assert!(data.is_object());
        let decoded =
            OrderEvent::from_stored(event.event_type(), event.schema_version(), &data).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn every_order_status_name_parses_back() {
    for name in [
        "placed",
        "stock_reserved",
        "paid",
        "shipped",
        "cancelled",
        "refunded",
    ] {
        let status = OrderStatus::from_name(name).expect(name);
        assert_eq!(status.name(), name);
    }
    assert_eq!(OrderStatus::from_name("Paid"), None);
    assert_eq!(OrderStatus::from_name(""), None);
    assert_eq!(OrderStatus::StockReserved.as_str(), "stock reserved");
}

#[test]
fn checkout_places_the_order_with_its_payment_method() {
    let OrderEvent::OrderPlaced { lines, total, .. } = placed() else {
        unreachable!()
    };
    let command = OrderCommand::Checkout {
        order_id: ORDER,
        customer_id: BUYER,
        lines: lines
            .iter()
            .map(|line| OrderLine {
                product_id: line.product_id,
                sku_id: line.sku_id,
                title: line.title.clone(),
                unit_price: line.unit_price,
                quantity: line.quantity,
            })
            .collect(),
        payment_method: PaymentMethod::External,
        at: at(0),
    };
    given([]).when(command).then([OrderEvent::OrderPlaced {
        order_id: ORDER,
        customer_id: BUYER,
        lines,
        total,
        payment_method: Some(PaymentMethod::External),
        at: at(0),
    }]);
}

#[test]
fn an_order_placed_before_checkouts_existed_reads_without_a_payment_method() {
    let mut data = placed().to_data();
    data.as_object_mut().unwrap().remove("payment_method");
    let event = OrderEvent::from_stored("OrderPlaced", 1, &data).unwrap();
    assert_eq!(event, placed());
    assert!(
        !placed()
            .to_data()
            .as_object()
            .unwrap()
            .contains_key("payment_method")
    );
}

#[test]
fn cancelling_a_paid_order_before_shipping_refunds_it() {
    given([placed(), stock_reserved(), paid()])
        .when(cancel())
        .then([OrderEvent::OrderRefunded {
            order_id: ORDER,
            payment_id: PAYMENT,
            amount: eur(4000),
            reason: "changed my mind".into(),
            shipped: false,
            at: at(4),
        }]);
}
