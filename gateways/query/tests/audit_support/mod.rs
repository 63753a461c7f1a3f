//! A known audit scenario written straight into a fresh log (explicit times, so time ranges are
//! exact), shared by the audit tests.
#![allow(dead_code)]

use aggregates::{
    CustomerId, DomainEvent, Money, checkout::notice_command_id, customer::CustomerEvent,
    money::Currency,
};
use chrono::{DateTime, Duration, Utc};
use event_store::testing::TestDatabase;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// 2026-12-07T10:00:00Z, the scenario's first minute.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

/// One event as a row of the log.
pub struct Row {
    pub position: i64,
    pub event_id: Uuid,
}

/// Inserts one event with an explicit time and metadata.
pub async fn insert(
    pool: &PgPool,
    stream: &str,
    version: i64,
    event_type: &str,
    data: Value,
    metadata: Value,
    recorded_at: DateTime<Utc>,
) -> Row {
    let event_id = Uuid::new_v4();
    let category = stream.split_once('-').unwrap().0;
    let position: i64 = sqlx::query_scalar(
        "INSERT INTO events (stream_id, category, stream_version, event_id, event_type, \
         schema_version, data, metadata, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING position",
    )
    .bind(stream)
    .bind(category)
    .bind(version)
    .bind(event_id)
    .bind(event_type)
    .bind(schema_version(event_type))
    .bind(data)
    .bind(metadata)
    .bind(recorded_at)
    .fetch_one(pool)
    .await
    .expect("insert an event");
    Row { position, event_id }
}

fn schema_version(event_type: &str) -> i32 {
    CustomerEvent::SCHEMAS
        .iter()
        .find(|(name, _)| *name == event_type)
        .map_or(1, |(_, version)| *version)
}

pub fn meta(correlation: Uuid, causation: Uuid, command: Uuid, actor: &str) -> Value {
    json!({
        "correlation_id": correlation,
        "causation_id": causation,
        "command_id": command,
        "actor": actor,
    })
}

fn usd(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::USD)
}

/// The scenario's ids and rows.
pub struct Scenario {
    pub db: TestDatabase,
    pub customer: CustomerId,
    pub other: CustomerId,
    pub order: Uuid,
    pub product: Uuid,
    /// The purchase's correlation id.
    pub correlation: Uuid,
    /// customer-<customer>: registered (admin, t0), deposited 100 (customer, t0+2), deposited
    /// 50 (customer, t0+5).
    pub customer_events: Vec<Row>,
    /// cart-<customer>: an item added (customer, t0+1).
    pub cart_event: Row,
    /// The chain: placed (order, customer, t0+6) → noticed (checkout) → reserved (product, by
    /// event causation) → two replies of one command (checkout).
    pub placed: Row,
    pub noticed: Row,
    pub reserved: Row,
    pub replies: [Row; 2],
    /// The other customer's registration (admin, t0+3), another correlation.
    pub other_registered: Row,
}

pub async fn scenario() -> Scenario {
    let db = TestDatabase::create(4).await;
    let pool = &db.pool;
    let customer = CustomerId(Uuid::new_v4());
    let other = CustomerId(Uuid::new_v4());
    let (order, product, correlation) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let me = customer.to_string();
    let stream = format!("customer-{customer}");

    let register = |customer_id: CustomerId, at: DateTime<Utc>| CustomerEvent::CustomerRegistered {
        customer_id,
        email: format!("{customer_id}@example.com"),
        name: "Ada".into(),
        currency: Currency::USD,
        at,
    };
    let deposit = |amount: i64, balance: i64, at: DateTime<Utc>| CustomerEvent::BalanceDeposited {
        customer_id: customer,
        amount: usd(amount),
        balance: usd(balance),
        at,
    };
    let command = |_: u8| Uuid::new_v4();
    let mut customer_events = Vec::new();
    let (c0, c1, c2) = (command(0), command(1), command(2));
    customer_events.push(
        insert(
            pool,
            &stream,
            0,
            "CustomerRegistered",
            register(customer, at(0)).to_data(),
            meta(Uuid::new_v4(), c0, c0, "admin:ops"),
            at(0),
        )
        .await,
    );
    let cart_command = Uuid::new_v4();
    let cart_event = insert(
        pool,
        &format!("cart-{customer}"),
        0,
        "ItemAdded",
        json!({"customer_id": me, "sku_id": "s-1", "quantity": 1}),
        meta(Uuid::new_v4(), cart_command, cart_command, &me),
        at(1),
    )
    .await;
    customer_events.push(
        insert(
            pool,
            &stream,
            1,
            "BalanceDeposited",
            deposit(100, 100, at(2)).to_data(),
            meta(Uuid::new_v4(), c1, c1, &me),
            at(2),
        )
        .await,
    );
    let o0 = Uuid::new_v4();
    let other_registered = insert(
        pool,
        &format!("customer-{other}"),
        0,
        "CustomerRegistered",
        register(other, at(3)).to_data(),
        meta(Uuid::new_v4(), o0, o0, "admin:ops"),
        at(3),
    )
    .await;
    customer_events.push(
        insert(
            pool,
            &stream,
            2,
            "BalanceDeposited",
            deposit(50, 150, at(5)).to_data(),
            meta(Uuid::new_v4(), c2, c2, &me),
            at(5),
        )
        .await,
    );

    // The purchase: one correlation id across four streams.
    let place = Uuid::new_v4();
    let placed = insert(
        pool,
        &format!("order-{order}"),
        0,
        "OrderPlaced",
        json!({"order_id": order, "customer_id": me}),
        meta(correlation, place, place, &me),
        at(6),
    )
    .await;
    let notice = notice_command_id(placed.event_id);
    let noticed = insert(
        pool,
        &format!("checkout-{order}"),
        0,
        "CheckoutNoticed",
        json!({"order_id": order}),
        meta(correlation, notice, notice, "checkout"),
        at(6),
    )
    .await;
    let reserve = Uuid::new_v4();
    let reserved = insert(
        pool,
        &format!("product-{product}"),
        0,
        "StockReserved",
        json!({"product_id": product}),
        json!({"correlation_id": correlation, "causation_id": noticed.event_id,
               "command_id": reserve, "actor": "checkout"}),
        at(7),
    )
    .await;
    let reply = Uuid::new_v5(&reserve, b"reply");
    let first = insert(
        pool,
        &format!("checkout-{order}"),
        1,
        "CheckoutStepSucceeded",
        json!({"order_id": order}),
        meta(correlation, reply, reply, "checkout"),
        at(7),
    )
    .await;
    let second = insert(
        pool,
        &format!("checkout-{order}"),
        2,
        "CheckoutCompleted",
        json!({"order_id": order}),
        meta(correlation, reply, reply, "checkout"),
        at(7),
    )
    .await;
    Scenario {
        db,
        customer,
        other,
        order,
        product,
        correlation,
        customer_events,
        cart_event,
        placed,
        noticed,
        reserved,
        replies: [first, second],
        other_registered,
    }
}
