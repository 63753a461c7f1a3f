use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn the_product_list_passes_paging_and_the_title_prefix_and_returns_the_page() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    let response = app
        .get(
            "/api/v1/products?limit=5&cursor=c%2B1&q=tea&ignored=yes",
            Some(&token),
        )
        .await;
    let body = response.ok();
    assert_eq!(body["next_cursor"], "page-2");
    let product = &body["products"][0];
    assert_eq!(product["product_id"], PRODUCT);
    assert_eq!(product["title"], "Teapot");
    let sku = &product["skus"][0];
    assert_eq!(sku["price"]["amount_minor"], 2500);
    assert_eq!(sku["price"]["currency"], "EUR");
    assert_eq!(sku["attributes"]["colour"], "white");
    assert_eq!(sku["available"], 7);

    let seen = app.fake.received.only();
    assert_eq!(seen.rpc, "ListProducts");
    assert_eq!((seen.limit, seen.cursor.as_str()), (5, "c+1"));
    assert_eq!(seen.title_prefix, "tea");
    assert_eq!(seen.consistency, None);
    assert_eq!(
        seen.authorization.as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(seen.has_deadline, "the gRPC call carries a deadline");
}

#[tokio::test]
async fn the_product_list_defaults_its_page_and_admits_any_authenticated_caller() {
    let app = TestApp::start().await;
    for token in [admin_token(), service_token()] {
        app.get("/api/v1/products?limit=&q=", Some(&token))
            .await
            .ok();
    }
    for seen in app.fake.received.all() {
        assert_eq!((seen.limit, seen.cursor.as_str()), (0, ""));
        assert_eq!(seen.title_prefix, "");
    }
}

#[tokio::test]
async fn a_product_is_found_by_its_id_in_any_spelling_of_the_uuid() {
    let app = TestApp::start().await;
    let token = service_token();
    let path = format!("/api/v1/products/{}", PRODUCT.to_uppercase());
    let body = app.get(&path, Some(&token)).await.ok().clone();
    assert_eq!(body["product_id"], PRODUCT);
    assert_eq!(body["skus"][0]["sku_id"], "teapot-white");
    assert_eq!(app.fake.received.only().id, PRODUCT);
}

#[tokio::test]
async fn an_unknown_product_is_404_with_the_services_message() {
    let app = TestApp::start().await;
    let unknown = "22222222-2222-4222-8222-222222222222";
    let response = app
        .get(
            &format!("/api/v1/products/{unknown}"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await;
    let message = response.assert_error(404, "not_found");
    assert!(message.contains(unknown), "{message}");
}

#[tokio::test]
async fn malformed_product_parameters_are_400_without_asking_the_query_service() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    let cases = [
        ("/api/v1/products/not-a-uuid", "product_id must be a UUID"),
        ("/api/v1/products/123", "product_id must be a UUID"),
        (
            "/api/v1/products?limit=0",
            "limit must be an integer from 1 to 100",
        ),
        (
            "/api/v1/products?limit=101",
            "limit must be an integer from 1 to 100",
        ),
        (
            "/api/v1/products?limit=abc",
            "limit must be an integer from 1 to 100",
        ),
        (
            "/api/v1/products?limit=-1",
            "limit must be an integer from 1 to 100",
        ),
        ("/api/v1/products?limit=1&limit=2", "duplicate field"),
    ];
    for (path, expected) in cases {
        let message = app
            .get(path, Some(&token))
            .await
            .assert_error(400, "invalid_argument");
        assert!(message.contains(expected), "{path}: {message}");
    }
    let unhyphenated = format!("/api/v1/products/{}", PRODUCT.replace('-', ""));
    app.get(&unhyphenated, Some(&token))
        .await
        .assert_error(400, "invalid_argument");
    let long = format!("/api/v1/products?q={}", "t".repeat(201));
    app.get(&long, Some(&token))
        .await
        .assert_error(400, "invalid_argument");
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn limits_at_the_bounds_are_accepted() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    app.get("/api/v1/products?limit=1", Some(&token)).await.ok();
    app.get("/api/v1/products?limit=100", Some(&token))
        .await
        .ok();
    let limits: Vec<u32> = app.fake.received.all().iter().map(|s| s.limit).collect();
    assert_eq!(limits, [1, 100]);
}

#[tokio::test]
async fn a_cursor_the_query_service_rejects_is_400() {
    let app = TestApp::start().await;
    let response = app
        .get(
            &format!("/api/v1/products?cursor={BAD_CURSOR}"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await;
    let message = response.assert_error(400, "invalid_argument");
    assert!(message.contains("unknown cursor"), "{message}");
}

#[tokio::test]
async fn an_internal_failure_is_500_without_its_detail() {
    let app = TestApp::start().await;
    let response = app
        .get(
            &format!("/api/v1/products/{BROKEN_PRODUCT}"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await;
    let message = response.assert_error(500, "internal");
    assert_eq!(message, "internal error");
    assert!(!response.body.to_string().contains("hunter2"));
}

#[tokio::test]
async fn a_query_service_slower_than_the_deadline_is_a_503_timeout_with_retry_after() {
    let app = TestApp::start_with(|config| config.query_timeout = Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let response = app
        .get(
            &format!("/api/v1/products/{SLOW_PRODUCT}"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await;
    response.assert_error(503, "timeout");
    assert_eq!(response.headers["retry-after"], "1");
    assert!(
        started.elapsed() < SLOW_DELAY,
        "gave up at the deadline, not after the answer"
    );
}
