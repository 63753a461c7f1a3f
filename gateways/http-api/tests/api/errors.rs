use axum::http::Method;

use crate::helpers::*;

#[tokio::test]
async fn unknown_routes_are_404_in_the_error_shape() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    for path in [
        "/",
        "/nope",
        "/api/v1",
        "/api/v2/products",
        "/api/v1/orders/a/b",
    ] {
        let message = app
            .get(path, Some(&token))
            .await
            .assert_error(404, "not_found");
        assert_eq!(message, "no such route", "{path}");
    }
    app.get("/api/v1/unknown", None)
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn other_methods_are_405_in_the_error_shape() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        for path in ["/api/v1/products", "/api/v1/me", "/healthz"] {
            let response = send(&app.router, method.clone(), path, Some(&token), &[]).await;
            response.assert_error(405, "method_not_allowed");
        }
    }
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn a_request_body_over_1_kib_is_refused() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    app.get_with(
        "/api/v1/products",
        Some(&token),
        &[("content-length", "2048")],
    )
    .await
    .assert_error(413, "payload_too_large");
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn successful_answers_are_json_without_the_error_shape() {
    let app = TestApp::start().await;
    let response = app
        .get("/api/v1/products", Some(&customer_token(CUSTOMER_A)))
        .await;
    assert_eq!(response.headers["content-type"], "application/json");
    assert!(response.ok().get("error").is_none());
}
