use crate::helpers::*;

fn order_ids(body: &serde_json::Value) -> Vec<String> {
    body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["order_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_order_list_is_the_calling_customers_newest_first() {
    let app = TestApp::start().await;
    let body = app
        .get("/api/v1/orders", Some(&customer_token(CUSTOMER_A)))
        .await
        .ok()
        .clone();
    assert_eq!(order_ids(&body), [ORDER_A2, ORDER_A1]);
    assert_eq!(body["next_cursor"], "");
    let order = &body["orders"][0];
    assert_eq!(order["total"]["amount_minor"], 5000);
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["timeline"]["placed_at"], "2026-01-03T00:00:00Z");
    let seen = app.fake.received.only();
    assert_eq!((seen.rpc, seen.id.as_str()), ("ListOrders", CUSTOMER_A));
}

#[tokio::test]
async fn the_order_list_passes_status_limit_and_cursor() {
    let app = TestApp::start().await;
    let body = app
        .get(
            "/api/v1/orders?status=paid&limit=2&cursor=abc",
            Some(&customer_token(CUSTOMER_A)),
        )
        .await
        .ok()
        .clone();
    assert_eq!(order_ids(&body), [ORDER_A2]);
    let seen = app.fake.received.only();
    assert_eq!(
        (seen.status.as_str(), seen.limit, seen.cursor.as_str()),
        ("paid", 2, "abc")
    );
}

#[tokio::test]
async fn every_order_status_is_accepted_and_nothing_else() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    for status in [
        "placed",
        "stock_reserved",
        "paid",
        "shipped",
        "cancelled",
        "refunded",
    ] {
        app.get(&format!("/api/v1/orders?status={status}"), Some(&token))
            .await
            .ok();
    }
    for bad in ["PAID", "lost", "paid,placed"] {
        let message = app
            .get(&format!("/api/v1/orders?status={bad}"), Some(&token))
            .await
            .assert_error(400, "invalid_argument");
        assert!(message.starts_with("status must be one of"), "{message}");
    }
    for bad in ["0", "101", "abc"] {
        app.get(&format!("/api/v1/orders?limit={bad}"), Some(&token))
            .await
            .assert_error(400, "invalid_argument");
    }
    assert_eq!(app.fake.received.all().len(), 6);
    app.get(&format!("/api/v1/orders?cursor={BAD_CURSOR}"), Some(&token))
        .await
        .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn the_order_list_needs_a_customer_token() {
    let app = TestApp::start().await;
    app.get("/api/v1/orders", Some(&service_token()))
        .await
        .assert_error(403, "forbidden");
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn a_customer_reads_their_own_order() {
    let app = TestApp::start().await;
    let body = app
        .get(
            &format!("/api/v1/orders/{ORDER_A1}"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await
        .ok()
        .clone();
    assert_eq!(body["order_id"], ORDER_A1);
    assert_eq!(body["customer_id"], CUSTOMER_A);
    assert_eq!(body["status"], "placed");
}

#[tokio::test]
async fn another_customers_order_is_403_and_an_unknown_one_404() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    app.get(&format!("/api/v1/orders/{ORDER_B1}"), Some(&token))
        .await
        .assert_error(403, "forbidden");
    app.get(
        "/api/v1/orders/44444444-4444-4444-8444-444444444444",
        Some(&token),
    )
    .await
    .assert_error(404, "not_found");
    let message = app
        .get("/api/v1/orders/order-1", Some(&token))
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(message, "order_id must be a UUID");
}

#[tokio::test]
async fn admins_read_any_order_and_any_customers_orders() {
    let app = TestApp::start().await;
    let admin = admin_token();
    let body = app
        .get(&format!("/api/v1/orders/{ORDER_B1}"), Some(&admin))
        .await
        .ok()
        .clone();
    assert_eq!(body["customer_id"], CUSTOMER_B);
    let body = app
        .get(
            &format!("/api/v1/admin/customers/{CUSTOMER_B}/orders?status=placed&limit=10"),
            Some(&admin),
        )
        .await
        .ok()
        .clone();
    assert_eq!(order_ids(&body), [ORDER_B1]);
    let seen = app.fake.received.all().pop().unwrap();
    assert_eq!(
        (seen.id.as_str(), seen.status.as_str(), seen.limit),
        (CUSTOMER_B, "placed", 10)
    );
}

#[tokio::test]
async fn the_admin_order_list_refuses_customers_and_bad_parameters() {
    let app = TestApp::start().await;
    let path = format!("/api/v1/admin/customers/{CUSTOMER_A}/orders");
    app.get(&path, Some(&customer_token(CUSTOMER_A)))
        .await
        .assert_error(403, "forbidden");
    app.get(&format!("{path}?status=gone"), Some(&admin_token()))
        .await
        .assert_error(400, "invalid_argument");
    app.get(&format!("{path}?limit=101"), Some(&admin_token()))
        .await
        .assert_error(400, "invalid_argument");
    app.get("/api/v1/admin/customers/x/orders", Some(&admin_token()))
        .await
        .assert_error(400, "invalid_argument");
    assert!(app.fake.received.all().is_empty());
}
