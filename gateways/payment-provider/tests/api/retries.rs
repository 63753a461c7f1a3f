//! Delivery: retried with doubling backoff until a `2xx`, each try recorded; given up after the
//! last try.

use std::time::Duration;

use event_store::testing::wait_until;
use tokio::time::Instant;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn a_callback_is_retried_with_doubling_backoff_until_the_webhook_answers_2xx() {
    let receiver = Receiver::answering(&[500, 503, 404]).await;
    let test = TestProvider::start_with(receiver, |_| {}).await;
    let (_, order, body) = new_charge(1_500);
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);

    let callbacks = test.receiver.wait_for(4).await;
    let answered: Vec<u16> = callbacks.iter().map(|c| c.answered).collect();
    assert_eq!(answered, [500, 503, 404, 200]);
    // Waits of 0.2 s, 0.4 s, 0.8 s between the tries (a little less is clock noise).
    for (pair, expected) in callbacks.windows(2).zip([200, 400, 800]) {
        let waited = pair[1].at - pair[0].at;
        assert!(
            waited >= Duration::from_millis(expected - 20),
            "waited {waited:?}, expected {expected} ms"
        );
    }
    let ids: Vec<String> = callbacks.iter().map(|c| c.event().id).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one event retried: {ids:?}"
    );
    for callback in &callbacks {
        assert_eq!(callback.verify(), Ok(()), "every try is signed");
    }
    let deliveries = test.deliveries(order).await;
    let tries: Vec<(u32, Option<u16>)> = deliveries.iter().map(|d| (d.attempt, d.status)).collect();
    assert_eq!(
        tries,
        [
            (1, Some(500)),
            (2, Some(503)),
            (3, Some(404)),
            (4, Some(200))
        ]
    );
}

#[tokio::test]
async fn a_callback_nobody_answers_is_given_up_after_the_last_try() {
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let receiver = Receiver::answering(&[]).await;
    let test = TestProvider::start_with(receiver, |config| {
        config.webhook_url = url;
        config.retry.first_backoff = Duration::from_millis(10);
        config.retry.max_tries = 3;
    })
    .await;
    let (_, order, body) = new_charge(1_500);
    assert_eq!(test.charge(Uuid::new_v4(), &body).await.status, 201);

    wait_until(Instant::now() + PATIENCE, "three tries", || async {
        test.deliveries(order).await.len() >= 3
    })
    .await;
    let deliveries = test.deliveries(order).await;
    let attempts: Vec<u32> = deliveries.iter().map(|d| d.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    for delivery in &deliveries {
        assert_eq!(delivery.status, None);
        let error = delivery.error.as_deref().unwrap();
        assert!(error.contains("onnect"), "{error}");
    }
}
