use crate::helpers::*;

#[tokio::test]
async fn me_is_the_calling_customers_profile() {
    let app = TestApp::start().await;
    let body = app
        .get("/api/v1/me", Some(&customer_token(CUSTOMER_A)))
        .await
        .ok()
        .clone();
    assert_eq!(body["customer_id"], CUSTOMER_A);
    assert_eq!(body["balance"]["amount_minor"], 10_000);
    assert_eq!(body["status"], "active");
    assert_eq!(body["deactivated_at"], serde_json::Value::Null);
    let seen = app.fake.received.only();
    assert_eq!((seen.rpc, seen.id.as_str()), ("GetCustomer", CUSTOMER_A));
}

#[tokio::test]
async fn me_needs_a_customer_token_naming_a_customer_id() {
    let app = TestApp::start().await;
    for token in [service_token(), admin_token(), customer_token("alice")] {
        app.get("/api/v1/me", Some(&token))
            .await
            .assert_error(403, "forbidden");
    }
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn me_of_a_customer_the_read_model_does_not_know_is_404() {
    let app = TestApp::start().await;
    let stranger = "33333333-3333-4333-8333-333333333333";
    app.get("/api/v1/me", Some(&customer_token(stranger)))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn admins_read_any_customer() {
    let app = TestApp::start().await;
    let body = app
        .get(
            &format!("/api/v1/admin/customers/{CUSTOMER_B}"),
            Some(&admin_token()),
        )
        .await
        .ok()
        .clone();
    assert_eq!(body["customer_id"], CUSTOMER_B);
    assert_eq!(app.fake.received.only().id, CUSTOMER_B);
}

#[tokio::test]
async fn the_admin_customer_route_refuses_non_admins_and_bad_ids() {
    let app = TestApp::start().await;
    // Even their own record: the admin routes are for admins.
    for token in [customer_token(CUSTOMER_A), service_token()] {
        let message = app
            .get(
                &format!("/api/v1/admin/customers/{CUSTOMER_A}"),
                Some(&token),
            )
            .await
            .assert_error(403, "forbidden");
        assert!(message.contains("admin"), "{message}");
    }
    let message = app
        .get("/api/v1/admin/customers/nobody", Some(&admin_token()))
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(message, "customer_id must be a UUID");
    assert!(app.fake.received.all().is_empty());
    app.get(
        "/api/v1/admin/customers/33333333-3333-4333-8333-333333333333",
        Some(&admin_token()),
    )
    .await
    .assert_error(404, "not_found");
}
