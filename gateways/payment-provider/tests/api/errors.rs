//! Refusals: malformed and oversized bodies, bad headers and parameters, unknown routes; the
//! health probe.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn malformed_requests_are_refused_with_400_saying_what_is_wrong() {
    let test = TestProvider::start().await;
    let key = Uuid::new_v4().to_string();
    let (_, _, charge) = new_charge(100);
    let with = |field: &str, value: serde_json::Value| {
        let mut body = charge.clone();
        body[field] = value;
        body.to_string().into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("/v1/charges", b"{".to_vec(), "body is not valid"),
        ("/v1/charges", b"".to_vec(), "body is not valid"),
        (
            "/v1/charges",
            json!({"payment_id": Uuid::new_v4()})
                .to_string()
                .into_bytes(),
            "missing field",
        ),
        ("/v1/charges", with("payment_id", json!("42")), "UUID"),
        (
            "/v1/charges",
            with("amount_minor", json!(19.99)),
            "invalid type",
        ),
        (
            "/v1/charges",
            with("amount_minor", json!(0)),
            "amount_minor must be positive",
        ),
        (
            "/v1/charges",
            with("currency", json!("eur")),
            "currency must be",
        ),
        ("/v1/refunds", b"[]".to_vec(), "body is not valid"),
    ];
    for (path, body, expected) in cases {
        let answer = test
            .send(Method::POST, path, &[("idempotency-key", &key)], body)
            .await;
        let message = answer.error(400, "invalid_request");
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
    let charge = charge.to_string().into_bytes();
    let missing = test
        .send(Method::POST, "/v1/charges", &[], charge.clone())
        .await;
    assert!(
        missing
            .error(400, "invalid_request")
            .contains("Idempotency-Key header is required")
    );
    let not_uuid = test
        .send(
            Method::POST,
            "/v1/charges",
            &[("idempotency-key", "abc")],
            charge,
        )
        .await;
    assert!(
        not_uuid
            .error(400, "invalid_request")
            .contains("must be a UUID")
    );

    let script = |order: &str, body: serde_json::Value| {
        let path = format!("/v1/scripts/{order}");
        let test = &test;
        async move {
            test.send(Method::PUT, &path, &[], body.to_string().into_bytes())
                .await
        }
    };
    let order = Uuid::new_v4().to_string();
    for (answer, expected) in [
        (script("42", json!({})).await, "order_id must be a UUID"),
        (
            script(&order, json!({"outcome": "maybe"})).await,
            "unknown variant",
        ),
        (
            script(&order, json!({"duplicated": true})).await,
            "unknown field",
        ),
        (
            script(&order, json!({"delay_ms": 60_001})).await,
            "delay_ms must be at most",
        ),
        (
            script(&order, json!({"decline_reason": ""})).await,
            "decline_reason must be",
        ),
    ] {
        let message = answer.error(400, "invalid_request");
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
    let deliveries = test
        .send(Method::GET, "/v1/deliveries?order_id=x", &[], Vec::new())
        .await;
    assert!(
        deliveries
            .error(400, "invalid_request")
            .contains("order_id must be a UUID")
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let test = TestProvider::start().await;
    let key = Uuid::new_v4().to_string();
    let huge = format!(r#"{{"padding": "{}"}}"#, "x".repeat(17 * 1024)).into_bytes();
    for (method, path) in [
        (Method::POST, "/v1/charges".to_owned()),
        (Method::POST, "/v1/refunds".to_owned()),
        (Method::PUT, format!("/v1/scripts/{}", Uuid::new_v4())),
    ] {
        let answer = test
            .send(method, &path, &[("idempotency-key", &key)], huge.clone())
            .await;
        let message = answer.error(413, "payload_too_large");
        assert_eq!(message, "request body larger than 16384 bytes", "{path}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused_in_the_error_shape_and_health_answers() {
    let test = TestProvider::start().await;
    test.send(Method::GET, "/v1/nothing", &[], Vec::new())
        .await
        .error(404, "not_found");
    test.send(Method::GET, "/v1/charges", &[], Vec::new())
        .await
        .error(405, "method_not_allowed");
    let health = test.send(Method::GET, "/healthz", &[], Vec::new()).await;
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));
}
