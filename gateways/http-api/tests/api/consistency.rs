use proto::query::ConsistencyToken;

use crate::helpers::*;

#[tokio::test]
async fn the_consistency_token_reaches_the_query_service_on_every_route() {
    let app = TestApp::start().await;
    let header = consistency("cart", CUSTOMER_A, 3);
    for (path, token) in protected_routes() {
        app.get_with(&path, Some(&token), &[("x-consistency-token", &header)])
            .await
            .ok();
    }
    let expected = ConsistencyToken {
        stream_id: format!("cart-{CUSTOMER_A}"),
        version: 3,
    };
    let received = app.fake.received.all();
    assert_eq!(received.len(), protected_routes().len());
    for seen in received {
        assert_eq!(seen.consistency.as_ref(), Some(&expected), "{}", seen.rpc);
    }
}

#[tokio::test]
async fn a_read_model_behind_the_token_is_503_not_yet_consistent_with_retry_after() {
    let app = TestApp::start().await;
    let header = consistency("order", ORDER_A1, UNREACHED_VERSION);
    for (path, token) in protected_routes() {
        let response = app
            .get_with(&path, Some(&token), &[("X-Consistency-Token", &header)])
            .await;
        let message = response.assert_error(503, "not_yet_consistent");
        assert!(message.starts_with("not_yet_consistent:"), "{message}");
        assert_eq!(response.headers["retry-after"], "1", "{path}");
    }
}

#[tokio::test]
async fn a_malformed_consistency_header_is_400_without_a_grpc_call() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    let bad = [
        "3".to_owned(),
        format!("cart-{CUSTOMER_A}"),
        format!("cart-{CUSTOMER_A}@"),
        format!("cart-{CUSTOMER_A}@three"),
        format!("cart-{CUSTOMER_A}@-1"),
        format!("cart-{CUSTOMER_A}@18446744073709551616"),
        "cart-42@3".to_owned(),
        format!("{CUSTOMER_A}@3"),
        format!("cart_{CUSTOMER_A}@3"),
    ];
    for value in &bad {
        for path in ["/api/v1/products", "/api/v1/me"] {
            let message = app
                .get_with(path, Some(&token), &[("x-consistency-token", value)])
                .await
                .assert_error(400, "invalid_argument");
            assert!(
                message.starts_with("X-Consistency-Token "),
                "{value}: {message}"
            );
        }
    }
    // Non-text bytes, and the header twice.
    let response = send_raw_consistency(&app, &token, b"cart-\xff@3").await;
    response.assert_error(400, "invalid_argument");
    let header = consistency("cart", CUSTOMER_A, 1);
    app.get_with(
        "/api/v1/cart",
        Some(&token),
        &[
            ("x-consistency-token", &header),
            ("x-consistency-token", &header),
        ],
    )
    .await
    .assert_error(400, "invalid_argument");
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn the_stream_id_is_split_from_the_version_at_the_last_at_sign() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    let header = format!("payment-{PAYMENT_A1}@{}", u64::MAX);
    app.get_with(
        "/api/v1/payments",
        Some(&token),
        &[("x-consistency-token", &header)],
    )
    .await
    .ok();
    let seen = app.fake.received.only();
    let token = seen.consistency.unwrap();
    assert_eq!(token.stream_id, format!("payment-{PAYMENT_A1}"));
    assert_eq!(token.version, u64::MAX);
}

async fn send_raw_consistency(app: &TestApp, token: &str, value: &[u8]) -> TestResponse {
    use axum::http::{HeaderValue, Request};
    use tower::ServiceExt;
    let request = Request::get("/api/v1/products")
        .header("authorization", format!("Bearer {token}"))
        .header(
            "x-consistency-token",
            HeaderValue::from_bytes(value).unwrap(),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    TestResponse {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap(),
    }
}
