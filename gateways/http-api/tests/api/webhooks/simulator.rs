//! End to end: the provider simulator charges, calls the webhook back (every callback twice, the
//! final one before the stale pending one), and the payment is captured exactly once.

use std::time::Duration;

use event_store::testing::wait_until;
use payment_provider::testing::Provider;
use serde_json::{Value, json};
use settings::SecretString;
use tokio::time::Instant;
use uuid::Uuid;

use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_at_the_provider_simulator_captures_the_payment_through_the_webhook_once() {
    let hook = Webhook::start().await;
    let provider = Provider::start(&hook.url(), |config| {
        config.signing_secret = SecretString::from(NEW_SECRET);
    })
    .await;
    let (payment, order) = hook.external_payment().await;
    let client = reqwest::Client::new();
    // Every callback twice, and the final one before the stale pending one.
    let script = client
        .put(format!("{}/v1/scripts/{order}", provider.url()))
        .json(&json!({"duplicate": true, "out_of_order": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    let charge = client
        .post(format!("{}/v1/charges", provider.url()))
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({
            "payment_id": payment, "order_id": order, "amount_minor": AMOUNT, "currency": "EUR",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(charge.status(), 201);

    let deliveries = || async {
        let answer: Value = client
            .get(format!("{}/v1/deliveries?order_id={order}", provider.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["deliveries"].as_array().unwrap().clone()
    };
    wait_until(
        Instant::now() + Duration::from_secs(20),
        "four deliveries",
        || async { deliveries().await.len() >= 4 },
    )
    .await;
    let sent: Vec<(String, u64)> = deliveries()
        .await
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap().to_owned(),
                d["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let ok = |kind: &str| (kind.to_owned(), 200);
    assert_eq!(
        sent,
        [
            ok("charge.succeeded"),
            ok("charge.succeeded"),
            ok("charge.pending"),
            ok("charge.pending")
        ]
    );
    assert_eq!(
        hook.payment_history(payment).await,
        ["PaymentInitiated", "PaymentCaptured"]
    );
    provider.stop().await;
}
