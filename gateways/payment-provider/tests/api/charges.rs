//! Charges: answered by a signed callback; declined, duplicated and out-of-order scripts; the
//! idempotency key.

use serde_json::json;
use uuid::Uuid;
use webhook::EventType;

use crate::helpers::*;

#[tokio::test]
async fn a_charge_is_answered_later_by_a_signed_charge_succeeded_callback() {
    let test = TestProvider::start().await;
    let (payment, order, body) = new_charge(1_999);

    let answer = test.charge(Uuid::new_v4(), &body).await;
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    let charge_id = webhook::charge_id(payment);
    assert_eq!(
        answer.body,
        json!({"charge_id": charge_id, "status": "pending"})
    );

    let [callback] = &test.receiver.wait_for(1).await[..] else {
        panic!("one callback");
    };
    assert_eq!(callback.verify(), Ok(()));
    let event = callback.event();
    assert_eq!(event.kind, EventType::ChargeSucceeded);
    assert!(event.id.starts_with("evt_"));
    assert!((event.created - unix_now()).abs() < 60);
    assert_eq!(
        (
            event.data.payment_id,
            event.data.order_id,
            event.data.charge_id.as_str()
        ),
        (payment, order, charge_id.as_str())
    );
    assert_eq!(
        (event.data.amount_minor, event.data.currency.as_str()),
        (1_999, "EUR")
    );
    assert_eq!(
        (event.data.refund_id, event.data.failure_reason),
        (None, None)
    );

    let deliveries = test.deliveries(order).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_id, event.id);
    assert_eq!(
        (deliveries[0].attempt, deliveries[0].status),
        (1, Some(200))
    );
    assert_eq!(deliveries[0].signature, callback.signature);
    assert!(test.deliveries(Uuid::new_v4()).await.is_empty());
}

#[tokio::test]
async fn a_declined_charge_is_answered_by_charge_failed_with_its_reason() {
    let test = TestProvider::start().await;
    let (_, order, body) = new_charge(500);
    test.script(
        order,
        &json!({"outcome": "decline", "decline_reason": "insufficient funds"}),
    )
    .await;
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);

    let callback = test.receiver.wait_for(1).await.remove(0);
    assert_eq!(callback.verify(), Ok(()));
    let event = callback.event();
    assert_eq!(event.kind, EventType::ChargeFailed);
    assert_eq!(
        event.data.failure_reason.as_deref(),
        Some("insufficient funds")
    );

    // Without a reason: "card declined".
    let (_, order, body) = new_charge(500);
    test.script(order, &json!({"outcome": "decline"})).await;
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);
    let event = test.receiver.wait_for(2).await.remove(1).event();
    assert_eq!(event.data.failure_reason.as_deref(), Some("card declined"));
}

#[tokio::test]
async fn a_duplicate_script_sends_each_callback_twice_with_the_same_id_and_signature() {
    let test = TestProvider::start().await;
    let (_, order, body) = new_charge(700);
    test.script(order, &json!({"duplicate": true})).await;
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);

    let callbacks = test.receiver.wait_for(2).await;
    assert_eq!(callbacks.len(), 2);
    assert_eq!(callbacks[0].body, callbacks[1].body, "an exact copy");
    assert_eq!(callbacks[0].signature, callbacks[1].signature);
    assert_eq!(callbacks[1].verify(), Ok(()));
    let copies: Vec<u32> = test
        .deliveries(order)
        .await
        .iter()
        .map(|d| d.copy)
        .collect();
    assert_eq!(copies, [1, 2]);
}

#[tokio::test]
async fn an_out_of_order_script_delivers_the_final_event_before_the_older_pending_one() {
    let test = TestProvider::start().await;
    let (payment, order, body) = new_charge(900);
    test.script(order, &json!({"out_of_order": true, "delay_ms": 1_100}))
        .await;
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);

    let callbacks = test.receiver.wait_for(2).await;
    let events: Vec<_> = callbacks.iter().map(Received::event).collect();
    let kinds: Vec<_> = events.iter().map(|event| event.kind).collect();
    assert_eq!(
        kinds,
        [EventType::ChargeSucceeded, EventType::ChargePending]
    );
    assert!(
        events[1].created < events[0].created,
        "pending was created first: {} vs {}",
        events[1].created,
        events[0].created
    );
    assert_ne!(events[0].id, events[1].id);
    for (callback, event) in callbacks.iter().zip(&events) {
        assert_eq!(callback.verify(), Ok(()));
        assert_eq!(event.data.payment_id, payment);
    }
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_charge_whatever_the_body() {
    let test = TestProvider::start().await;
    let (payment, order, body) = new_charge(1_200);
    let key = Uuid::new_v4();
    let first = test.charge(key, &body).await;
    assert_eq!(first.status, 201);

    let (_, _, other) = new_charge(5);
    for again in [body.clone(), other, json!("not even a charge")] {
        let answer = test.charge(key, &again).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        assert_eq!(answer.body["charge_id"], webhook::charge_id(payment));
    }
    // Played once: one callback, and the charge the key names is the one it settled.
    test.receiver.wait_for(1).await;
    let settled = test.charge(key, &body).await;
    assert_eq!(settled.body["status"], "succeeded");
    assert_eq!(test.receiver.received().len(), 1);
    assert_eq!(test.deliveries(order).await.len(), 1);
}

#[tokio::test]
async fn another_key_for_the_same_payment_names_its_one_charge() {
    let test = TestProvider::start().await;
    let (payment, _, body) = new_charge(1_200);
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);
    let again = test.charge(Uuid::new_v4(), &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["charge_id"], webhook::charge_id(payment));
}
