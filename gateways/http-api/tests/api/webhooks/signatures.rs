//! Signature first: missing, malformed, stale, forged or tampered callbacks are 401 and change
//! nothing; a rotated secret still verifies; then the body: malformed is 400, oversized 413.

use axum::{body::Body, http::Request};
use http_api::routes::webhooks::WEBHOOK_PATH;
use serde_json::{Value, json};
use tower::ServiceExt;
use webhook::{EventType, SIGNATURE_HEADER};

use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_with_a_bad_signature_are_refused_with_401_and_change_nothing() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let body = event(EventType::ChargeSucceeded, payment, order).to_json();
    let now = unix_now();
    let mut tampered: Value = serde_json::from_slice(&body).unwrap();
    tampered["data"]["amount_minor"] = json!(1);
    let tampered = tampered.to_string().into_bytes();
    let valid = sign(NEW_SECRET, now, &body);

    let cases: Vec<(Vec<u8>, Option<String>, &str)> = vec![
        (body.clone(), None, "missing Commerce-Signature header"),
        (
            body.clone(),
            Some(String::new()),
            "missing Commerce-Signature header",
        ),
        (
            body.clone(),
            Some(sign(FOREIGN_SECRET, now, &body)),
            "no Commerce-Signature v1 matches",
        ),
        (
            tampered,
            Some(valid.clone()),
            "no Commerce-Signature v1 matches",
        ),
        (
            body.clone(),
            Some(sign(NEW_SECRET, now - 301, &body)),
            "301 s old, beyond the tolerance of 300 s",
        ),
        (
            body.clone(),
            Some(sign(NEW_SECRET, now + 301, &body)),
            "in the future, beyond the tolerance",
        ),
        (
            body.clone(),
            Some(format!("t={now}")),
            "malformed Commerce-Signature header: no v1=",
        ),
        (
            body.clone(),
            Some(valid.replace("t=", "ts=")),
            "malformed Commerce-Signature header: no t=",
        ),
        (
            body.clone(),
            Some(format!("{valid},t={now}")),
            "more than once",
        ),
        (
            body.clone(),
            Some(valid.replace("v1=", "v1=zz")),
            "64 hex digits",
        ),
    ];
    for (body, signature, expected) in cases {
        let answer = hook.post(&body, signature.as_deref()).await;
        let message = answer.error(401, "invalid_signature");
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
        assert_eq!(answer.headers["www-authenticate"], "Commerce-Signature");
    }
    // The header twice.
    let twice = hook
        .client
        .post(hook.url())
        .header(SIGNATURE_HEADER, &valid)
        .header(SIGNATURE_HEADER, &valid)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 401);
    assert_eq!(hook.payment_history(payment).await, ["PaymentInitiated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_signed_with_the_second_secret_of_the_list_is_accepted_while_it_rotates() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let body = event(EventType::ChargeSucceeded, payment, order).to_json();
    hook.post(&body, Some(&sign(OLD_SECRET, unix_now(), &body)))
        .await
        .receipt("applied");
    assert_eq!(
        hook.payment_history(payment).await,
        ["PaymentInitiated", "PaymentCaptured"]
    );
    // Signed with both (the provider mid-rotation): accepted too.
    let (payment, order) = hook.external_payment().await;
    let body = event(EventType::ChargeSucceeded, payment, order).to_json();
    let both = webhook::sign_all(&[FOREIGN_SECRET, OLD_SECRET], unix_now(), &body);
    hook.post(&body, Some(&both)).await.receipt("applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_refused_with_400_once_their_signature_holds() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let mut unknown: Value =
        serde_json::from_slice(&event(EventType::ChargeSucceeded, payment, order).to_json())
            .unwrap();
    unknown["type"] = json!("charge.exploded");
    let mut bad_id = unknown.clone();
    bad_id["type"] = json!("charge.succeeded");
    bad_id["data"]["payment_id"] = json!("42");
    let mut missing = bad_id.clone();
    missing["data"]["payment_id"] = json!(payment);
    missing["data"].as_object_mut().unwrap().remove("currency");
    for (body, expected) in [
        (b"{".to_vec(), "not a callback event"),
        (b"".to_vec(), "not a callback event"),
        (unknown.to_string().into_bytes(), "unknown variant"),
        (bad_id.to_string().into_bytes(), "UUID"),
        (missing.to_string().into_bytes(), "missing field `currency`"),
    ] {
        let answer = hook
            .post(&body, Some(&sign(NEW_SECRET, unix_now(), &body)))
            .await;
        let message = answer.error(400, "invalid_argument");
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
    // Unsigned, the same garbage is a signature problem first.
    hook.post(b"{", None).await.error(401, "invalid_signature");
    assert_eq!(hook.payment_history(payment).await, ["PaymentInitiated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_with_413() {
    let hook = Webhook::start().await;
    let (payment, order) = hook.external_payment().await;
    let mut padded: Value =
        serde_json::from_slice(&event(EventType::ChargeSucceeded, payment, order).to_json())
            .unwrap();
    padded["padding"] = json!("x".repeat(64 * 1024));
    let body = padded.to_string().into_bytes();
    let answer = hook
        .post(&body, Some(&sign(NEW_SECRET, unix_now(), &body)))
        .await;
    let message = answer.error(413, "payload_too_large");
    assert_eq!(message, "request body larger than 65536 bytes");

    // Without a Content-Length (chunked), the limit holds as the body is read.
    let router = http_api::router(http_api::AppState::new(&hook.config).unwrap());
    let request = Request::post(WEBHOOK_PATH)
        .header(SIGNATURE_HEADER, sign(NEW_SECRET, unix_now(), &body))
        .body(Body::from_stream(chunked(&body)))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(hook.payment_history(payment).await, ["PaymentInitiated"]);
}
