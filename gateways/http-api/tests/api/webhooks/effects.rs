//! The effects: one payment command per event, deduplicated by its command id; unknown payments
//! 404; late, out-of-order and informational callbacks ignored with 200; the payment service
//! down 503.

use event_store::StreamId;
use serde_json::json;
use uuid::Uuid;
use webhook::EventType;

use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_charge_succeeded_captures_the_payment_once_however_often_it_arrives() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let succeeded = event(EventType::ChargeSucceeded, payment, order);
    let body = succeeded.to_json();
    let signature = sign(NEW_SECRET, unix_now(), &body);

    let first = hook.post(&body, Some(&signature)).await;
    assert_eq!(first.receipt("applied"), &json!({"status": "applied"}));
    let events = hook.payment_events(payment).await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["PaymentInitiated", "PaymentCaptured"]);
    assert_eq!(
        events[1].1["provider_reference"],
        webhook::charge_id(payment)
    );
    let store = hook.db.store();
    let stream = StreamId::parse(format!("payment-{payment}")).unwrap();
    let captured = &store.read_stream_to_end(&stream).await.unwrap()[1];
    assert_eq!(
        captured.metadata.command_id,
        Some(webhook::command_id(&succeeded.id))
    );
    assert_eq!(captured.metadata.actor.as_deref(), Some("payment-webhook"));
    assert_eq!(captured.metadata.correlation_id, Some(order));

    // The exact same delivery again (a duplicate), and a retry signed later: the same command,
    // answered from its stored result.
    hook.post(&body, Some(&signature)).await.receipt("applied");
    hook.deliver(&succeeded).await.receipt("applied");
    assert_eq!(
        hook.payment_history(payment).await,
        ["PaymentInitiated", "PaymentCaptured"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_about_an_unknown_payment_is_404() {
    let hook = Webhook::start().await;
    let unknown = event(EventType::ChargeSucceeded, Uuid::new_v4(), Uuid::new_v4());
    hook.deliver(&unknown).await.error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_informational_callbacks_are_ignored_with_200_and_change_nothing() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let pending = hook
        .deliver(&event(EventType::ChargePending, payment, order))
        .await;
    assert!(
        pending.receipt("ignored")["reason"]
            .as_str()
            .unwrap()
            .contains("informational")
    );
    hook.deliver(&event(EventType::ChargeSucceeded, payment, order))
        .await
        .receipt("applied");

    // A failure arriving after the success (out of order): the payment is captured already.
    let late = hook
        .deliver(&event(EventType::ChargeFailed, payment, order))
        .await;
    let reason = late.receipt("ignored")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("captured"), "{reason}");
    // And the stale pending one after both.
    hook.deliver(&event(EventType::ChargePending, payment, order))
        .await
        .receipt("ignored");
    assert_eq!(
        hook.payment_history(payment).await,
        ["PaymentInitiated", "PaymentCaptured"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_charge_fails_the_payment_with_the_providers_reason() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let failed = event(EventType::ChargeFailed, payment, order);
    hook.deliver(&failed).await.receipt("applied");
    hook.deliver(&failed).await.receipt("applied");
    let events = hook.payment_events(payment).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].0, "PaymentFailed");
    assert_eq!(events[1].1["reason"], "payment declined: card declined");
    // A success after the failure is late: ignored.
    hook.deliver(&event(EventType::ChargeSucceeded, payment, order))
        .await
        .receipt("ignored");
    assert_eq!(hook.payment_events(payment).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_at_the_provider_refunds_the_captured_payment_once() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    // A refund before the capture: not in a state for it.
    let early = event(EventType::RefundSucceeded, payment, order);
    hook.deliver(&early).await.receipt("ignored");
    hook.deliver(&event(EventType::ChargeSucceeded, payment, order))
        .await
        .receipt("applied");
    let mut refund = event(EventType::RefundSucceeded, payment, order);
    refund.data.amount_minor = 2_000;
    hook.deliver(&refund).await.receipt("applied");
    hook.deliver(&refund).await.receipt("applied");
    let events = hook.payment_events(payment).await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["PaymentInitiated", "PaymentCaptured", "PaymentRefunded"]
    );
    assert_eq!(
        events[2].1["amount"]["amount_minor"], 2_000,
        "{:#}",
        events[2].1
    );
    assert_eq!(events[2].1["reason"], "refunded at the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_service_down_is_503_so_the_provider_retries() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let hook = Webhook::start_with(|config| config.webhook.payment_endpoint = endpoint).await;
    let answer = hook
        .deliver(&event(
            EventType::ChargeSucceeded,
            Uuid::new_v4(),
            Uuid::new_v4(),
        ))
        .await;
    let message = answer.error(503, "unavailable");
    assert!(message.contains("payment service"), "{message}");
    assert_eq!(answer.headers["retry-after"], "1");
}
