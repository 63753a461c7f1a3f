use crate::helpers::*;

#[tokio::test]
async fn the_payment_list_is_the_calling_customers_with_paging_passed_on() {
    let app = TestApp::start().await;
    let body = app
        .get(
            "/api/v1/payments?limit=3&cursor=xyz",
            Some(&customer_token(CUSTOMER_A)),
        )
        .await
        .ok()
        .clone();
    let payments = body["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["payment_id"], PAYMENT_A1);
    assert_eq!(payments[0]["amount"]["amount_minor"], 5000);
    assert_eq!(payments[0]["captured_at"], "2026-01-03T00:00:02Z");
    let seen = app.fake.received.only();
    assert_eq!(
        (seen.rpc, seen.id.as_str(), seen.limit, seen.cursor.as_str()),
        ("ListPayments", CUSTOMER_A, 3, "xyz")
    );
}

#[tokio::test]
async fn the_payment_list_refuses_bad_limits_and_non_customers() {
    let app = TestApp::start().await;
    for bad in ["0", "101", "abc"] {
        app.get(
            &format!("/api/v1/payments?limit={bad}"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await
        .assert_error(400, "invalid_argument");
    }
    app.get("/api/v1/payments", Some(&admin_token()))
        .await
        .assert_error(403, "forbidden");
    assert!(app.fake.received.all().is_empty());
    app.get(
        &format!("/api/v1/payments?cursor={BAD_CURSOR}"),
        Some(&customer_token(CUSTOMER_A)),
    )
    .await
    .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn a_customer_reads_their_own_payment_but_not_anothers() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    let body = app
        .get(&format!("/api/v1/payments/{PAYMENT_A1}"), Some(&token))
        .await
        .ok()
        .clone();
    assert_eq!(body["payment_id"], PAYMENT_A1);
    assert_eq!(body["order_id"], ORDER_A2);
    app.get(&format!("/api/v1/payments/{PAYMENT_B1}"), Some(&token))
        .await
        .assert_error(403, "forbidden");
    app.get(
        "/api/v1/payments/55555555-5555-4555-8555-555555555555",
        Some(&token),
    )
    .await
    .assert_error(404, "not_found");
    let message = app
        .get("/api/v1/payments/pay-1", Some(&token))
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(message, "payment_id must be a UUID");
}

#[tokio::test]
async fn admins_read_any_customers_payments_and_customers_may_not() {
    let app = TestApp::start().await;
    let path = format!("/api/v1/admin/customers/{CUSTOMER_B}/payments");
    let body = app.get(&path, Some(&admin_token())).await.ok().clone();
    assert_eq!(body["payments"][0]["payment_id"], PAYMENT_B1);
    let body = app
        .get(
            &format!("/api/v1/payments/{PAYMENT_B1}"),
            Some(&admin_token()),
        )
        .await
        .ok()
        .clone();
    assert_eq!(body["customer_id"], CUSTOMER_B);
    app.get(&path, Some(&customer_token(CUSTOMER_B)))
        .await
        .assert_error(403, "forbidden");
    app.get(&format!("{path}?limit=0"), Some(&admin_token()))
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(app.fake.received.all().len(), 2);
}
