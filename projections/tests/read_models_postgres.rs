//! The PostgreSQL read models (customers, orders, payments, inventory ledger) fed the checkout
//! story straight from a real log, without the runtime, and read back through their readers.

use aggregates::{
    Currency, Customer, CustomerId, OrderId, Product, ProductId, ReservationId, SkuId,
    customer::CustomerCommand,
    order::OrderStatus,
    payment::{PaymentMethod, PaymentStatus},
    product::{ProductCommand, StockLine},
};
use event_store::{EventMetadata, RecordedEvent, StreamId};
use projections::testing::{
    Stream, all_events, apply_pg, database, id,
    story::{self, Story, eur},
    t, table_rows,
};
use projections::{
    PostgresProjection, ProjectionError,
    read_models::{
        customers::{self, CustomerStatus, Customers},
        inventory_ledger::{self, InventoryLedger, Movement},
        orders::{self, Orders},
        payments::{self, Payments},
    },
};
use sqlx::PgPool;
use uuid::Uuid;

const MODELS: [&dyn PostgresProjection; 4] = [&Customers, &Orders, &Payments, &InventoryLedger];

async fn apply_all(pool: &PgPool, events: &[RecordedEvent]) {
    for model in MODELS {
        apply_pg(pool, model, events).await;
    }
}

#[tokio::test]
async fn postgres_read_models_show_the_checkout_story() {
    let (db, mut log) = database().await;
    let s: Story = story::write(&mut log).await;
    let events = all_events(&log.store).await;
    assert_eq!(events.len(), s.marks["end"]);
    apply_all(&db.pool, &events).await;
    let pool = &db.pool;

    let alice = customers::get(pool, s.alice).await.unwrap().expect("alice");
    assert_eq!(
        (alice.email.as_str(), alice.name.as_str()),
        ("alice@example.org", "Alice Liddell")
    );
    assert_eq!(alice.balance, eur(20_000 - 15_497));
    assert_eq!(alice.status, CustomerStatus::Active);
    assert_eq!((alice.registered_at, alice.updated_at), (t(0), t(22)));
    let bob = customers::get(pool, s.bob).await.unwrap().expect("bob");
    assert_eq!(bob.status, CustomerStatus::Deactivated);
    assert_eq!(bob.deactivated_at, Some(t(50)));
    assert_eq!(
        customers::get(pool, CustomerId(Uuid::new_v4()))
            .await
            .unwrap(),
        None
    );

    let o1 = orders::get(pool, s.o1).await.unwrap().expect("order 1");
    assert_eq!(o1.status, OrderStatus::Shipped);
    assert_eq!(o1.total, eur(15_497));
    let totals: Vec<_> = o1
        .lines
        .iter()
        .map(|l| (l.sku_id, l.quantity, l.line_total))
        .collect();
    assert_eq!(totals, [(s.s1, 2, eur(9_998)), (s.s2, 1, eur(5_499))]);
    assert_eq!(o1.item_count, 3);
    let tl = &o1.timeline;
    assert_eq!(
        (
            tl.placed_at,
            tl.stock_reserved_at,
            tl.paid_at,
            tl.shipped_at
        ),
        (t(20), Some(t(21)), Some(t(23)), Some(t(25)))
    );
    assert_eq!((tl.cancelled_at, tl.refunded_at), (None, None));
    assert_eq!((o1.payment_id, o1.paid), (Some(s.pay1), Some(eur(15_497))));
    let o2 = orders::get(pool, s.o2).await.unwrap().expect("order 2");
    assert_eq!(o2.status, OrderStatus::Cancelled);
    assert_eq!(o2.cancel_reason.as_deref(), Some("payment failed"));
    assert_eq!(o2.cancelled_with_stock_reserved, Some(true));
    assert_eq!(o2.timeline.cancelled_at, Some(t(33)));
    let o3 = orders::get(pool, s.o3).await.unwrap().expect("order 3");
    assert_eq!(o3.status, OrderStatus::Refunded);
    assert_eq!(o3.refunded, Some(eur(8_999)));
    assert_eq!(o3.refunded_after_shipping, Some(false));
    assert_eq!(o3.timeline.refunded_at, Some(t(44)));
    assert_eq!(
        orders::get(pool, OrderId(Uuid::new_v4())).await.unwrap(),
        None
    );

    // Newest first, two per page.
    let page = orders::list_for_customer(pool, s.alice, None, None, 2)
        .await
        .unwrap();
    let ids: Vec<_> = page.orders.iter().map(|o| o.order_id).collect();
    assert_eq!(ids, [s.o3, s.o2]);
    assert_eq!(page.orders[0], o3);
    let last = orders::list_for_customer(pool, s.alice, None, page.next, 2)
        .await
        .unwrap();
    let ids: Vec<_> = last.orders.iter().map(|o| o.order_id).collect();
    assert_eq!((ids, last.next), (vec![s.o1], None));
    let shipped = orders::list_for_customer(pool, s.alice, Some(OrderStatus::Shipped), None, 10);
    let shipped = shipped.await.unwrap();
    assert_eq!(shipped.orders, [o1]);
    let none = orders::list_for_customer(pool, s.bob, None, None, 10)
        .await
        .unwrap();
    assert!(none.orders.is_empty() && none.next.is_none());

    let pay1 = payments::get(pool, s.pay1)
        .await
        .unwrap()
        .expect("payment 1");
    assert_eq!(
        (pay1.method, pay1.status),
        (PaymentMethod::Balance, PaymentStatus::Captured)
    );
    assert_eq!((pay1.amount, pay1.captured_at), (eur(15_497), Some(t(23))));
    let pay2 = payments::get(pool, s.pay2)
        .await
        .unwrap()
        .expect("payment 2");
    assert_eq!(pay2.status, PaymentStatus::Failed);
    assert_eq!(pay2.failure_reason.as_deref(), Some("card declined"));
    let pay3 = payments::get(pool, s.pay3)
        .await
        .unwrap()
        .expect("payment 3");
    assert_eq!(pay3.status, PaymentStatus::Refunded);
    assert_eq!(pay3.provider_reference.as_deref(), Some("psp-123"));
    assert_eq!(pay3.refunded, eur(8_999));
    let refunds: Vec<_> = pay3
        .refunds
        .iter()
        .map(|r| (r.amount, r.total_refunded))
        .collect();
    assert_eq!(
        refunds,
        [(eur(4_000), eur(4_000)), (eur(4_999), eur(8_999))]
    );
    assert_eq!(pay3.last_refunded_at, Some(t(44)));
    let listed = payments::list_for_customer(pool, s.alice, None, 10)
        .await
        .unwrap();
    let ids: Vec<_> = listed.payments.iter().map(|p| p.payment_id).collect();
    assert_eq!((ids, listed.next), (vec![s.pay3, s.pay2, s.pay1], None));
    assert_eq!(payments::for_order(pool, s.o2).await.unwrap(), [pay2]);

    // Size 43: restocked 3, 1 reserved and committed for order 1, 2 reserved and released for 2.
    let ledger = inventory_ledger::for_sku(pool, s.s2, None, 10)
        .await
        .unwrap();
    let rows: Vec<_> = ledger
        .iter()
        .map(|e| {
            let levels = (e.on_hand, e.reserved, e.available);
            (
                e.movement,
                e.delta_on_hand,
                e.delta_reserved,
                levels,
                e.reservation_id,
            )
        })
        .collect();
    let (r1, r2) = (
        Some(ReservationId::from(s.o1)),
        Some(ReservationId::from(s.o2)),
    );
    assert_eq!(
        rows,
        [
            (Movement::Restock, 3, 0, (3, 0, 3), None),
            (Movement::Reserve, 0, 1, (3, 1, 2), r1),
            (Movement::Commit, -1, -1, (2, 0, 2), r1),
            (Movement::Reserve, 0, 2, (2, 2, 0), r2),
            (Movement::Release, 0, -2, (2, 0, 2), r2),
        ]
    );
    assert!(ledger.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(ledger[4].at, t(33));
    let after = inventory_ledger::for_sku(pool, s.s2, Some(ledger[2].position), 1).await;
    assert_eq!(after.unwrap(), ledger[3..4]);
}

#[tokio::test]
async fn postgres_read_models_rebuilt_from_the_log_equal_the_live_ones() {
    let (live, mut log) = database().await;
    let s = story::write(&mut log).await;
    let events = all_events(&log.store).await;
    apply_all(&live.pool, &events).await;
    let (rebuilt, _) = database().await;
    apply_all(&rebuilt.pool, &events).await;

    for model in MODELS {
        for table in model.tables() {
            let rows = table_rows(&live.pool, table).await;
            assert!(!rows.is_empty(), "{table} is filled by the story");
            assert_eq!(rows, table_rows(&rebuilt.pool, table).await, "{table}");
        }
    }
    for pool in [&live.pool, &rebuilt.pool] {
        let page = orders::list_for_customer(pool, s.alice, None, None, 10)
            .await
            .unwrap();
        let payments = payments::list_for_customer(pool, s.alice, None, 10)
            .await
            .unwrap();
        let ledger = inventory_ledger::for_sku(pool, s.s1, None, 10)
            .await
            .unwrap();
        let alice = customers::get(pool, s.alice).await.unwrap();
        let expected = (page.orders.len(), payments.payments.len(), ledger.len());
        assert_eq!(expected, (3, 3, 3));
        assert!(alice.is_some());
    }
    let a = orders::list_for_customer(&live.pool, s.alice, None, None, 10)
        .await
        .unwrap();
    let b = orders::list_for_customer(&rebuilt.pool, s.alice, None, None, 10)
        .await
        .unwrap();
    assert_eq!(a, b);
}

#[tokio::test]
async fn postgres_read_models_applied_in_one_batch_equal_the_ones_applied_event_by_event() {
    let (one_by_one, mut log) = database().await;
    story::write(&mut log).await;
    // A customer whose balance changes before and after a profile update: only the balance
    // events no other event of the customer follows may be coalesced.
    let carol: CustomerId = id();
    let mut stream = Stream::<Customer>::new(&carol);
    let deposit = |amount, minute| CustomerCommand::DepositBalance {
        amount: eur(amount),
        at: t(minute),
    };
    let register = CustomerCommand::Register {
        customer_id: carol,
        email: "carol@example.com".to_owned(),
        name: "Carol".to_owned(),
        currency: Currency::EUR,
        at: t(60),
    };
    stream.run(&mut log, register).await;
    stream.run(&mut log, deposit(500, 61)).await;
    let update = CustomerCommand::UpdateProfile {
        email: "carol@example.org".to_owned(),
        name: "Carol C".to_owned(),
        at: t(62),
    };
    stream.run(&mut log, update).await;
    stream.run(&mut log, deposit(700, 63)).await;
    stream.run(&mut log, deposit(900, 64)).await;
    // A product whose every stock movement lands in the ledger in one batch: several SKUs per
    // event, and a return, which the story has none of.
    let (lamp, bulb, shade): (ProductId, SkuId, SkuId) = (id(), id(), id());
    let mut lamp_stream = Stream::<Product>::new(&lamp);
    let lines = |items: &[(SkuId, u32)]| {
        items
            .iter()
            .map(|&(sku_id, quantity)| StockLine { sku_id, quantity })
            .collect::<Vec<_>>()
    };
    let (sold, dropped): (ReservationId, ReservationId) = (id(), id());
    let mut commands = vec![ProductCommand::CreateProduct {
        product_id: lamp,
        title: "Lamp".to_owned(),
        description: String::new(),
        at: t(70),
    }];
    for sku_id in [bulb, shade] {
        commands.push(ProductCommand::AddSku {
            sku_id,
            price: eur(1200),
            attributes: std::collections::BTreeMap::new(),
            at: t(70),
        });
        commands.push(ProductCommand::RestockSku {
            sku_id,
            quantity: 10,
            at: t(71),
        });
    }
    commands.extend([
        ProductCommand::ReserveStock {
            reservation_id: sold,
            items: lines(&[(bulb, 3), (shade, 1)]),
            at: t(72),
        },
        ProductCommand::CommitStock {
            reservation_id: sold,
            at: t(73),
        },
        ProductCommand::ReturnStock {
            reservation_id: sold,
            at: t(74),
        },
        ProductCommand::ReserveStock {
            reservation_id: dropped,
            items: lines(&[(shade, 2), (bulb, 1)]),
            at: t(75),
        },
        ProductCommand::ReleaseStock {
            reservation_id: dropped,
            at: t(76),
        },
    ]);
    for command in commands {
        lamp_stream.run(&mut log, command).await;
    }
    let events = all_events(&log.store).await;
    apply_all(&one_by_one.pool, &events).await;

    let (batched, _) = database().await;
    for model in MODELS {
        let mine: Vec<&RecordedEvent> = events
            .iter()
            .filter(|event| model.categories().contains(&event.stream_id.category()))
            .collect();
        let mut tx = batched.pool.begin().await.unwrap();
        model.apply_all(&mut tx, &mine).await.unwrap();
        tx.commit().await.unwrap();
        for table in model.tables() {
            assert_eq!(
                table_rows(&batched.pool, table).await,
                table_rows(&one_by_one.pool, table).await,
                "{table}"
            );
        }
    }
    let lamp_rows = inventory_ledger::for_sku(&batched.pool, bulb, None, 100)
        .await
        .unwrap();
    let movements: Vec<(Movement, i64, i64)> = lamp_rows
        .iter()
        .map(|row| (row.movement, row.delta_on_hand, row.delta_reserved))
        .collect();
    assert_eq!(
        movements,
        [
            (Movement::Restock, 10, 0),
            (Movement::Reserve, 0, 3),
            (Movement::Commit, -3, -3),
            (Movement::Return, 3, 0),
            (Movement::Reserve, 0, 1),
            (Movement::Release, 0, -1),
        ]
    );
    let carol = customers::get(&batched.pool, carol).await.unwrap().unwrap();
    assert_eq!(carol.balance, eur(2100));
    assert_eq!((carol.name.as_str(), carol.updated_at), ("Carol C", t(64)));
}

fn recorded(stream: &str, event_type: &str, data: serde_json::Value) -> RecordedEvent {
    RecordedEvent {
        position: 7,
        tx_id: 1,
        stream_id: StreamId::parse(stream).unwrap(),
        version: 3,
        event_id: Uuid::new_v4(),
        event_type: event_type.to_owned(),
        schema_version: 1,
        data,
        metadata: EventMetadata::default(),
        recorded_at: t(0),
    }
}

#[tokio::test]
async fn postgres_read_models_reject_undecodable_and_inconsistent_events_and_skip_others() {
    let (db, _log) = database().await;
    let order = format!("order-{}", Uuid::new_v4());
    let paid_unknown = recorded(
        &order,
        "OrderPaid",
        serde_json::json!({
            "order_id": Uuid::new_v4(), "payment_id": Uuid::new_v4(),
            "amount": {"amount_minor": 5, "currency": "EUR"}, "at": t(1)
        }),
    );
    let garbled = recorded(&order, "OrderPlaced", serde_json::json!({"order_id": 12}));
    let foreign = recorded(&order, "OrderArchived", serde_json::json!({}));

    let mut tx = db.pool.begin().await.unwrap();
    let err = Orders.apply(&mut tx, &paid_unknown).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Inconsistent(_)), "{err}");
    let err = Orders.apply(&mut tx, &garbled).await.unwrap_err();
    assert!(matches!(err, ProjectionError::Decode { .. }), "{err}");
    Orders
        .apply(&mut tx, &foreign)
        .await
        .expect("unknown types are ignored");
    Customers
        .apply(&mut tx, &paid_unknown)
        .await
        .expect("other aggregates' events too");
}
