//! The checkout on the real stack: PostgreSQL, Redis, RocketMQ and every role as a real process
//! (`checkout::testing::Stack`). Each test starts one stack and runs several purchases on it,
//! each with customers and products of its own.

use std::time::Duration;

use aggregates::{
    OrderId,
    checkout::{DEADLINE_PASSED, INSUFFICIENT_BALANCE, OUT_OF_STOCK, Phase, Step},
};
use checkout::testing::{PaymentMethod, Stack, StackOptions, wait_until};
use futures::future::join_all;
use tokio::time::Instant;
use uuid::Uuid;

/// Longest a purchase may take to settle on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(60);

fn order() -> OrderId {
    OrderId(Uuid::new_v4())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purchases_succeed_fail_and_refund_end_to_end() {
    let stack = Stack::start(StackOptions::default()).await;

    // Happy path by balance: paid, stock committed, balance debited, cart cleared.
    let ada = Uuid::new_v4();
    stack.customer(ada, 10_000).await;
    let (tent, tent_sku) = stack.product(1_500, 5).await;
    let version = stack.add_to_cart(ada, tent, tent_sku, 2).await;
    let paid = order();
    let token = stack
        .checkout(ada, paid, PaymentMethod::Balance, Some(version))
        .await
        .expect("checkout accepted");
    assert_eq!(token.stream_id, format!("order-{}", paid.0));
    let state = stack.settled(paid, SETTLE).await;
    assert_eq!(state.phase, Phase::Completed, "{state:?}");
    assert_eq!(stack.stock(tent, tent_sku).await, (3, 0));
    assert_eq!(stack.balance(ada).await.amount_minor(), 7_000);
    assert_eq!(
        stack
            .count_events(&format!("order-{}", paid.0), "OrderPaid")
            .await,
        1
    );
    assert_eq!(
        stack
            .count_events(&format!("cart-{ada}"), "CartCleared")
            .await,
        1
    );

    // Cancel after payment: the money and the stock come back.
    stack.cancel(ada, paid).await.expect("cancel a paid order");
    let refunded = stack
        .reaches(paid, &Phase::Refunded, SETTLE)
        .await
        .expect("refunded");
    assert!(refunded.succeeded(&Step::CreditBalance));
    assert_eq!(stack.balance(ada).await.amount_minor(), 10_000);
    assert_eq!(stack.stock(tent, tent_sku).await, (5, 0));

    // Out of stock on one of two products: nothing stays reserved, the order is cancelled.
    let bob = Uuid::new_v4();
    stack.customer(bob, 100_000).await;
    let (stove, stove_sku) = stack.product(2_000, 1).await;
    stack.add_to_cart(bob, tent, tent_sku, 1).await;
    stack.add_to_cart(bob, stove, stove_sku, 1).await;
    // Someone else buys the last stove first.
    let eve = Uuid::new_v4();
    stack.customer(eve, 100_000).await;
    stack.add_to_cart(eve, stove, stove_sku, 1).await;
    let eves = order();
    stack
        .checkout(eve, eves, PaymentMethod::Balance, None)
        .await
        .unwrap();
    assert_eq!(stack.settled(eves, SETTLE).await.phase, Phase::Completed);
    let short = order();
    stack
        .checkout(bob, short, PaymentMethod::Balance, None)
        .await
        .unwrap();
    let state = stack.settled(short, SETTLE).await;
    assert_eq!(
        state.phase,
        Phase::Cancelled {
            reason: OUT_OF_STOCK.into()
        }
    );
    assert_eq!(stack.stock(tent, tent_sku).await, (5, 0), "tent released");
    assert_eq!(stack.stock(stove, stove_sku).await, (0, 0));
    assert_eq!(stack.balance(bob).await.amount_minor(), 100_000);
    assert_eq!(
        stack
            .count_events(&format!("order-{}", short.0), "OrderCancelled")
            .await,
        1
    );

    // Insufficient balance: stock released, payment failed, order cancelled.
    let poor = Uuid::new_v4();
    stack.customer(poor, 100).await;
    stack.add_to_cart(poor, tent, tent_sku, 1).await;
    let broke = order();
    stack
        .checkout(poor, broke, PaymentMethod::Balance, None)
        .await
        .unwrap();
    let state = stack.settled(broke, SETTLE).await;
    assert_eq!(
        state.phase,
        Phase::Cancelled {
            reason: INSUFFICIENT_BALANCE.into()
        }
    );
    assert_eq!(stack.stock(tent, tent_sku).await, (5, 0));
    assert_eq!(stack.balance(poor).await.amount_minor(), 100);
    let payment = aggregates::checkout::payment_id(broke);
    assert_eq!(
        stack
            .count_events(&format!("payment-{}", payment.0), "PaymentFailed")
            .await,
        1
    );

    // The same RocketMQ message delivered twice: the relay's OrderPlaced of the paid order sent
    // again — the checkout records nothing new and sends nothing twice.
    let before = stack
        .store()
        .read_stream_to_end(&checkout_stream(paid))
        .await
        .unwrap();
    let placed = stack
        .store()
        .read_stream_to_end(&event_store::StreamId::parse(format!("order-{}", paid.0)).unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|event| event.event_type == "OrderPlaced")
        .unwrap();
    redeliver(&stack, &placed).await;
    // A marker checkout after the redelivery on the same topic: once it settled, the
    // redelivered message (earlier on its queue or handled concurrently) has been consumed.
    let marker_customer = Uuid::new_v4();
    stack.customer(marker_customer, 10_000).await;
    stack.add_to_cart(marker_customer, tent, tent_sku, 1).await;
    let marker = order();
    stack
        .checkout(marker_customer, marker, PaymentMethod::Balance, None)
        .await
        .unwrap();
    stack.settled(marker, SETTLE).await;
    let after = stack
        .store()
        .read_stream_to_end(&checkout_stream(paid))
        .await
        .unwrap();
    assert_eq!(before.len(), after.len(), "nothing recorded twice");
    assert_eq!(
        stack.balance(ada).await.amount_minor(),
        10_000,
        "no second debit"
    );

    wait_until(
        Instant::now() + SETTLE,
        "read models equal a rebuild",
        || async { stack.read_models_equal_rebuild().await.is_ok() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_customers_race_for_ten_units() {
    let stack = Stack::start(StackOptions::default()).await;
    let (tent, sku) = stack.product(1_000, 10).await;
    let customers: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    join_all(customers.iter().map(|c| async {
        stack.customer(*c, 5_000).await;
        stack.add_to_cart(*c, tent, sku, 1).await;
    }))
    .await;
    let orders: Vec<OrderId> = customers.iter().map(|_| order()).collect();
    let accepted = join_all(
        customers
            .iter()
            .zip(&orders)
            .map(|(c, o)| stack.checkout(*c, *o, PaymentMethod::Balance, None)),
    )
    .await;
    assert!(accepted.iter().all(Result::is_ok), "{accepted:?}");
    let settled = join_all(
        orders
            .iter()
            .map(|o| stack.settled(*o, Duration::from_secs(120))),
    )
    .await;
    let paid = settled
        .iter()
        .filter(|c| c.phase == Phase::Completed)
        .count();
    let out_of_stock = settled
        .iter()
        .filter(|c| {
            c.phase
                == Phase::Cancelled {
                    reason: OUT_OF_STOCK.into(),
                }
        })
        .count();
    assert_eq!((paid, out_of_stock), (10, 40));
    assert_eq!(stack.stock(tent, sku).await, (0, 0));
    for customer in &customers {
        let balance = stack.balance(*customer).await.amount_minor();
        assert!(balance == 4_000 || balance == 5_000, "balance {balance}");
    }
    wait_until(
        Instant::now() + Duration::from_secs(120),
        "read models equal a rebuild",
        || async { stack.read_models_equal_rebuild().await.is_ok() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadline_compensates_even_across_a_sigkill_of_the_process_manager() {
    let mut stack = Stack::start(StackOptions {
        deadline_secs: 4,
        ..StackOptions::default()
    })
    .await;
    let ada = Uuid::new_v4();
    stack.customer(ada, 10_000).await;
    let (tent, sku) = stack.product(1_500, 3).await;
    stack.add_to_cart(ada, tent, sku, 1).await;
    let slow = order();
    // The provider will answer long after the deadline.
    script(
        &stack,
        slow,
        serde_json::json!({"outcome": "approve", "delay_ms": 60_000}),
    )
    .await;
    stack
        .checkout(ada, slow, PaymentMethod::External, None)
        .await
        .unwrap();
    wait_until(
        Instant::now() + SETTLE,
        "the charge was asked for",
        || async {
            stack
                .checkout_state(slow)
                .await
                .is_some_and(|c| c.succeeded(&Step::Charge))
        },
    )
    .await;
    assert_eq!(stack.stock(tent, sku).await, (3, 1), "held while waiting");
    stack.kill("checkout");
    // Past the deadline with no process manager running: nothing happens yet.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let waiting = stack.checkout_state(slow).await.unwrap();
    assert_eq!(waiting.phase, Phase::Running, "nobody fired it");
    stack.spawn("checkout");
    let state = stack.settled(slow, SETTLE).await;
    assert_eq!(
        state.phase,
        Phase::Cancelled {
            reason: DEADLINE_PASSED.into()
        }
    );
    assert_eq!(stack.stock(tent, sku).await, (3, 0));
    let payment = aggregates::checkout::payment_id(slow);
    assert_eq!(
        stack
            .count_events(&format!("payment-{}", payment.0), "PaymentFailed")
            .await,
        1
    );
    // The deadline goes with the checkout (right after its last step): nothing is stuck.
    wait_until(
        Instant::now() + SETTLE,
        "the deadline row is gone",
        || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM checkout_deadlines")
                .fetch_one(&stack.db.pool)
                .await
                .unwrap()
                == 0
        },
    )
    .await;
}

fn checkout_stream(order: OrderId) -> event_store::StreamId {
    event_store::StreamId::parse(format!("checkout-{}", order.0)).unwrap()
}

/// Sends `event` to its topic again, as the relay would after a crash before its checkpoint.
async fn redeliver(stack: &Stack, event: &event_store::RecordedEvent) {
    use rocketmq::{BrokerClient, BrokerClientConfig, EventTopics, OutgoingEvent};
    let settings = &stack.db.settings;
    let broker = BrokerClient::new(BrokerClientConfig::new(&settings.rocketmq.name_server))
        .expect("a broker client");
    let producer = broker
        .start_producer(&format!("{}-redeliver", stack.topic_prefix()))
        .await
        .expect("a producer");
    let out = OutgoingEvent::encode(&EventTopics::new(stack.topic_prefix()), event);
    producer
        .send_ordered(
            &out.topic,
            &out.tag,
            &out.key,
            &out.selector,
            out.body.clone(),
            &out.property_pairs(),
        )
        .await
        .expect("sent again");
    producer.shutdown().await;
    broker.shutdown().await.ok();
}

/// Tells the provider simulator how to answer `order`'s charge.
async fn script(stack: &Stack, order: OrderId, script: serde_json::Value) {
    let response = reqwest::Client::new()
        .put(format!("{}/v1/scripts/{}", stack.provider_url(), order.0))
        .json(&script)
        .send()
        .await
        .expect("the provider answers");
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn external_payments_and_their_callbacks_end_to_end() {
    let stack = Stack::start(StackOptions::default()).await;
    let ada = Uuid::new_v4();
    stack.customer(ada, 0).await;
    let (tent, sku) = stack.product(2_500, 10).await;

    // Approved by the provider, with every callback delivered twice and a stale
    // `charge.pending` after the success: one capture, completed.
    let mut approved = Vec::new();
    for script_body in [
        serde_json::json!({"outcome": "approve"}),
        serde_json::json!({"outcome": "approve", "duplicate": true}),
        serde_json::json!({"outcome": "approve", "out_of_order": true}),
    ] {
        stack.add_to_cart(ada, tent, sku, 1).await;
        let bought = order();
        script(&stack, bought, script_body.clone()).await;
        stack
            .checkout(ada, bought, PaymentMethod::External, None)
            .await
            .unwrap();
        let state = stack.settled(bought, SETTLE).await;
        assert_eq!(state.phase, Phase::Completed, "{script_body}: {state:?}");
        let payment = payment_stream(bought);
        assert_eq!(stack.count_events(&payment, "PaymentCaptured").await, 1);
        assert_eq!(stack.count_events(&payment, "PaymentFailed").await, 0);
        approved.push(bought);
    }
    assert_eq!(stack.stock(tent, sku).await, (7, 0));

    // Declined: stock released, order cancelled with the provider's reason.
    stack.add_to_cart(ada, tent, sku, 2).await;
    let declined = order();
    script(
        &stack,
        declined,
        serde_json::json!({"outcome": "decline", "decline_reason": "card declined"}),
    )
    .await;
    stack
        .checkout(ada, declined, PaymentMethod::External, None)
        .await
        .unwrap();
    let state = stack.settled(declined, SETTLE).await;
    let Phase::Cancelled { reason } = &state.phase else {
        panic!("{state:?}")
    };
    assert!(reason.contains("declined"), "{reason}");
    assert_eq!(stack.stock(tent, sku).await, (7, 0));

    // Our own callbacks for a charge the provider holds back: forged, stale and future ones
    // change nothing; the valid one captures; the same one again changes nothing more.
    let waiting = order();
    script(
        &stack,
        waiting,
        serde_json::json!({"outcome": "approve", "delay_ms": 60_000}),
    )
    .await;
    stack
        .checkout(ada, waiting, PaymentMethod::External, None)
        .await
        .unwrap();
    wait_until(
        Instant::now() + SETTLE,
        "the charge was asked for",
        || async {
            stack
                .checkout_state(waiting)
                .await
                .is_some_and(|c| c.succeeded(&Step::Charge))
        },
    )
    .await;
    let payment = aggregates::checkout::payment_id(waiting);
    let success = callback(waiting, "charge.succeeded", None);
    let now = chrono::Utc::now().timestamp();
    let secret = b"a-secret-that-is-not-ours-but-is-long-enough";
    assert_eq!(
        post_callback(&stack, &success, secret, now).await,
        401,
        "forged"
    );
    let ours = dev_secret(&stack);
    assert_eq!(
        post_callback(&stack, &success, &ours, now - 301).await,
        401,
        "stale"
    );
    assert_eq!(
        post_callback(&stack, &success, &ours, now + 301).await,
        401,
        "future"
    );
    assert_eq!(
        stack
            .count_events(&format!("payment-{}", payment.0), "PaymentCaptured")
            .await,
        0,
        "nothing captured by refused callbacks"
    );
    assert_eq!(post_callback(&stack, &success, &ours, now).await, 200);
    assert_eq!(stack.settled(waiting, SETTLE).await.phase, Phase::Completed);
    assert_eq!(
        post_callback(&stack, &success, &ours, now).await,
        200,
        "replayed"
    );
    // Out of order: a failure after the success.
    let failure = callback(waiting, "charge.failed", Some("card declined"));
    assert_eq!(post_callback(&stack, &failure, &ours, now).await, 200);
    let payment = format!("payment-{}", payment.0);
    assert_eq!(stack.count_events(&payment, "PaymentCaptured").await, 1);
    assert_eq!(stack.count_events(&payment, "PaymentFailed").await, 0);
    assert_eq!(
        stack.checkout_state(waiting).await.unwrap().phase,
        Phase::Completed
    );

    // Cancelled after payment: refunded at the provider (a charge it approved), stock
    // returned.
    let (on_hand, _) = stack.stock(tent, sku).await;
    let first = approved[0];
    stack.cancel(ada, first).await.expect("cancel a paid order");
    let refunded = stack
        .reaches(first, &Phase::Refunded, SETTLE)
        .await
        .expect("refunded through the provider");
    assert!(
        refunded.succeeded(&Step::ProviderRefund),
        "{:?}",
        refunded.refused
    );
    assert_eq!(
        stack
            .count_events(&payment_stream(first), "PaymentRefunded")
            .await,
        1
    );
    assert_eq!(stack.stock(tent, sku).await, (on_hand + 1, 0));

    wait_until(
        Instant::now() + SETTLE,
        "read models equal a rebuild",
        || async { stack.read_models_equal_rebuild().await.is_ok() },
    )
    .await;
}

fn payment_stream(order: OrderId) -> String {
    format!("payment-{}", aggregates::checkout::payment_id(order).0)
}

/// A provider callback about `order`'s payment, as the provider would send it.
fn callback(order: OrderId, kind: &str, failure: Option<&str>) -> Vec<u8> {
    let payment = aggregates::checkout::payment_id(order).0;
    serde_json::to_vec(&serde_json::json!({
        "id": format!("evt_{}", Uuid::new_v4()),
        "type": kind,
        "created": chrono::Utc::now().timestamp(),
        "data": {
            "payment_id": payment,
            "order_id": order.0,
            "charge_id": webhook::charge_id(payment),
            "amount_minor": 2_500,
            "currency": "EUR",
            "refund_id": null,
            "failure_reason": failure,
        }
    }))
    .unwrap()
}

fn dev_secret(stack: &Stack) -> Vec<u8> {
    use settings::ExposeSecret;
    stack.db.settings.payments.webhook_secrets()[0]
        .expose_secret()
        .as_bytes()
        .to_vec()
}

/// POSTs `body` signed with `secret` at `at` to the stack's webhook; the status.
async fn post_callback(stack: &Stack, body: &[u8], secret: &[u8], at: i64) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/api/v1/webhooks/payments", stack.http_url()))
        .header(webhook::SIGNATURE_HEADER, webhook::sign(secret, at, body))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("the webhook answers")
        .status()
        .as_u16()
}
