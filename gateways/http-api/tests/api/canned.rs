//! The fake query service's canned data: two customers, one product, A's cart, two orders of
//! A and one of B, a payment each, a checkout of A's first order and of B's; and the ids that
//! make the fake misbehave on purpose.

use std::time::Duration;

use proto::{
    common::Money,
    query::{
        Cart, CartLine, Checkout, CheckoutTimelineEntry, Customer, Order, OrderLine, OrderTimeline,
        Payment, Product, Sku,
    },
};

pub const PRODUCT: &str = "11111111-1111-4111-8111-111111111111";
pub const CUSTOMER_A: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
pub const CUSTOMER_B: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
pub const ORDER_A1: &str = "a1000000-0000-4000-8000-000000000001";
pub const ORDER_A2: &str = "a2000000-0000-4000-8000-000000000002";
pub const ORDER_B1: &str = "b1000000-0000-4000-8000-000000000001";
pub const PAYMENT_A1: &str = "ca100000-0000-4000-8000-000000000001";
pub const PAYMENT_B1: &str = "cb100000-0000-4000-8000-000000000001";
/// A product id the fake fails with INTERNAL (carrying a detail that must not leak).
pub const BROKEN_PRODUCT: &str = "deaddead-dead-4ead-8ead-deaddeaddead";
/// A product id the fake answers only after [`SLOW_DELAY`].
pub const SLOW_PRODUCT: &str = "51051051-0000-4000-8000-000000000000";
/// How long the fake sits on [`SLOW_PRODUCT`].
pub const SLOW_DELAY: Duration = Duration::from_secs(3);
/// A consistency token version the fake's read models never reach.
pub const UNREACHED_VERSION: u64 = 999;
/// A cursor the fake does not know.
pub const BAD_CURSOR: &str = "bogus-cursor";
/// What an internal failure of the fake says; must never reach an HTTP client.
pub const INTERNAL_DETAIL: &str = "postgres password=hunter2 at 10.1.2.3";

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".into(),
    })
}

pub fn product() -> Product {
    Product {
        product_id: PRODUCT.into(),
        title: "Teapot".into(),
        description: "Short and stout".into(),
        status: "active".into(),
        skus: vec![Sku {
            sku_id: "teapot-white".into(),
            price: eur(2500),
            attributes: [("colour".to_owned(), "white".to_owned())].into(),
            on_hand: 10,
            reserved: 3,
            available: 7,
            status: "active".into(),
            added_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-02T00:00:00Z".into(),
        }],
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-02T00:00:00Z".into(),
    }
}

pub fn customer(id: &str) -> Customer {
    Customer {
        customer_id: id.into(),
        email: format!("{}@example.com", &id[..4]),
        name: "Ada".into(),
        balance: eur(10_000),
        status: "active".into(),
        registered_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
        deactivated_at: None,
        version: 4,
    }
}

pub fn order(order_id: &str, customer_id: &str, status: &str) -> Order {
    Order {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        status: status.into(),
        total: eur(5000),
        lines: vec![OrderLine {
            product_id: PRODUCT.into(),
            sku_id: "teapot-white".into(),
            title: "Teapot".into(),
            unit_price: eur(2500),
            quantity: 2,
            line_total: eur(5000),
        }],
        item_count: 2,
        timeline: Some(OrderTimeline {
            placed_at: "2026-01-03T00:00:00Z".into(),
            updated_at: "2026-01-03T00:00:00Z".into(),
            ..OrderTimeline::default()
        }),
        version: 1,
        ..Order::default()
    }
}

pub fn orders() -> Vec<Order> {
    vec![
        order(ORDER_A2, CUSTOMER_A, "paid"),
        order(ORDER_A1, CUSTOMER_A, "placed"),
        order(ORDER_B1, CUSTOMER_B, "placed"),
    ]
}

pub fn payment(payment_id: &str, order_id: &str, customer_id: &str) -> Payment {
    Payment {
        payment_id: payment_id.into(),
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        method: "balance".into(),
        amount: eur(5000),
        status: "captured".into(),
        refunded: eur(0),
        initiated_at: "2026-01-03T00:00:01Z".into(),
        captured_at: Some("2026-01-03T00:00:02Z".into()),
        updated_at: "2026-01-03T00:00:02Z".into(),
        version: 2,
        ..Payment::default()
    }
}

pub fn payments() -> Vec<Payment> {
    vec![
        payment(PAYMENT_A1, ORDER_A2, CUSTOMER_A),
        payment(PAYMENT_B1, ORDER_B1, CUSTOMER_B),
    ]
}

pub fn cart() -> Cart {
    Cart {
        customer_id: CUSTOMER_A.into(),
        lines: vec![CartLine {
            product_id: PRODUCT.into(),
            sku_id: "teapot-white".into(),
            title: "Teapot".into(),
            unit_price: eur(2500),
            quantity: 1,
            line_total: eur(2500),
            available: Some(7),
            valid: true,
            problem: None,
        }],
        total: eur(2500),
        valid: true,
        updated_at: Some("2026-01-02T00:00:00Z".into()),
    }
}

pub fn checkout(order_id: &str, customer_id: &str, status: &str) -> Checkout {
    Checkout {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        payment_id: PAYMENT_A1.into(),
        method: "balance".into(),
        total: eur(5000),
        status: status.into(),
        deadline_at: "2026-01-03T00:15:00Z".into(),
        started_at: "2026-01-03T00:00:00Z".into(),
        updated_at: "2026-01-03T00:00:01Z".into(),
        timeline: vec![
            CheckoutTimelineEntry {
                version: 0,
                kind: "CheckoutStarted".into(),
                at: "2026-01-03T00:00:00Z".into(),
                ..CheckoutTimelineEntry::default()
            },
            CheckoutTimelineEntry {
                version: 1,
                kind: "CheckoutStepSucceeded".into(),
                step: Some(format!("reserve:{PRODUCT}")),
                detail: None,
                at: "2026-01-03T00:00:01Z".into(),
            },
        ],
        version: 1,
        ..Checkout::default()
    }
}

/// A's first order is checking out; B's is stuck compensating.
pub fn checkouts() -> Vec<Checkout> {
    vec![
        checkout(ORDER_A1, CUSTOMER_A, "running"),
        Checkout {
            reason: Some("deadline passed".into()),
            ..checkout(ORDER_B1, CUSTOMER_B, "compensating")
        },
    ]
}
