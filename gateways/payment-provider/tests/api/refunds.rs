//! Refunds: of a succeeded charge, answered by `refund.succeeded`; refused for unknown, unsettled
//! or exhausted charges.

use serde_json::{Value, json};
use uuid::Uuid;
use webhook::EventType;

use crate::helpers::*;

fn refund_of(payment: Uuid, amount_minor: i64) -> Value {
    json!({
        "payment_id": payment,
        "charge_id": webhook::charge_id(payment),
        "amount_minor": amount_minor,
        "currency": "EUR",
    })
}

#[tokio::test]
async fn a_refund_of_a_succeeded_charge_is_answered_by_refund_succeeded() {
    let test = TestProvider::start().await;
    let (payment, order, charge) = new_charge(3_000);
    assert_eq!(test.charge(Uuid::new_v4(), &charge).await.status, 201);
    test.receiver.wait_for(1).await;

    let key = Uuid::new_v4();
    let answer = test.refund(key, &refund_of(payment, 1_000)).await;
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    let refund_id = webhook::refund_id(key);
    assert_eq!(
        answer.body,
        json!({"refund_id": refund_id, "status": "pending"})
    );
    let again = test.refund(key, &json!({})).await;
    assert_eq!(
        (again.status, &again.body["refund_id"]),
        (200, &json!(refund_id))
    );

    let callback = test.receiver.wait_for(2).await.remove(1);
    assert_eq!(callback.verify(), Ok(()));
    let event = callback.event();
    assert_eq!(event.kind, EventType::RefundSucceeded);
    assert_eq!(event.data.refund_id.as_deref(), Some(refund_id.as_str()));
    assert_eq!(event.data.amount_minor, 1_000);
    assert_eq!(event.data.charge_id, webhook::charge_id(payment));
    assert_eq!(event.data.order_id, order);

    // The rest can be refunded; more cannot.
    let over = test
        .refund(Uuid::new_v4(), &refund_of(payment, 2_001))
        .await;
    assert!(over.error(409, "not_refundable").contains("2000 left"));
    assert_eq!(
        test.refund(Uuid::new_v4(), &refund_of(payment, 2_000))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn refunds_of_unknown_unsettled_or_mismatched_charges_are_refused() {
    let test = TestProvider::start().await;
    let unknown = test
        .refund(Uuid::new_v4(), &refund_of(Uuid::new_v4(), 100))
        .await;
    assert!(unknown.error(404, "not_found").contains("no such charge"));

    // Still pending: its outcome waits a minute (the test stops the simulator before).
    let (payment, order, charge) = new_charge(3_000);
    test.script(order, &json!({"delay_ms": 60_000})).await;
    assert_eq!(test.charge(Uuid::new_v4(), &charge).await.status, 201);
    let pending = test.refund(Uuid::new_v4(), &refund_of(payment, 100)).await;
    assert!(
        pending
            .error(409, "not_refundable")
            .contains("has not succeeded")
    );

    let mut dollars = refund_of(payment, 100);
    dollars["currency"] = json!("USD");
    let message = test
        .refund(Uuid::new_v4(), &dollars)
        .await
        .error(400, "invalid_request");
    assert!(message.contains("currency"), "{message}");
    let mut foreign = refund_of(payment, 100);
    foreign["payment_id"] = json!(Uuid::new_v4());
    let message = test
        .refund(Uuid::new_v4(), &foreign)
        .await
        .error(400, "invalid_request");
    assert!(message.contains("payment_id"), "{message}");

    // Declined charges are not refundable either.
    let (payment, order, charge) = new_charge(3_000);
    test.script(order, &json!({"outcome": "decline"})).await;
    assert_eq!(test.charge(Uuid::new_v4(), &charge).await.status, 201);
    test.receiver.wait_for(1).await;
    let declined = test.refund(Uuid::new_v4(), &refund_of(payment, 100)).await;
    declined.error(409, "not_refundable");
    test.provider.stop().await;
}
