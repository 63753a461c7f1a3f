use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn healthz_is_ok_without_a_token() {
    let app = TestApp::start().await;
    let response = app.get("/healthz", None).await;
    assert_eq!(response.ok(), &json!({"status": "ok"}));
    assert!(response.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn readyz_is_200_while_the_query_service_serves() {
    let app = TestApp::start().await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.ok(), &json!({"status": "ready"}));
}

#[tokio::test]
async fn with_the_query_service_down_reads_and_readyz_are_503_and_healthz_is_200() {
    let router = router_without_query_service().await;
    let response = send(&router, axum::http::Method::GET, "/readyz", None, &[]).await;
    response.assert_error(503, "unavailable");
    assert_eq!(response.headers["retry-after"], "1");

    let token = customer_token(CUSTOMER_A);
    for path in ["/api/v1/products", "/api/v1/me"] {
        let response = send(&router, axum::http::Method::GET, path, Some(&token), &[]).await;
        let message = response.assert_error(503, "unavailable");
        assert_eq!(response.headers["retry-after"], "1");
        assert!(
            !message.contains("127.0.0.1"),
            "no connection detail: {message}"
        );
    }
    // The token is still checked first.
    send(&router, axum::http::Method::GET, "/api/v1/me", None, &[])
        .await
        .assert_error(401, "unauthenticated");

    let response = send(&router, axum::http::Method::GET, "/healthz", None, &[]).await;
    assert_eq!(response.ok(), &json!({"status": "ok"}));
}
