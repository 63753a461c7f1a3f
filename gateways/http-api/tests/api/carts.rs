use crate::helpers::*;

#[tokio::test]
async fn the_cart_is_the_calling_customers() {
    let app = TestApp::start().await;
    let body = app
        .get("/api/v1/cart", Some(&customer_token(CUSTOMER_A)))
        .await
        .ok()
        .clone();
    assert_eq!(body["customer_id"], CUSTOMER_A);
    assert_eq!(body["lines"][0]["quantity"], 1);
    assert_eq!(body["lines"][0]["available"], 7);
    assert_eq!(body["total"]["amount_minor"], 2500);
    assert_eq!(body["valid"], true);
    let seen = app.fake.received.only();
    assert_eq!((seen.rpc, seen.id.as_str()), ("GetCart", CUSTOMER_A));
}

#[tokio::test]
async fn the_cart_needs_a_customer_token() {
    let app = TestApp::start().await;
    for token in [service_token(), admin_token()] {
        app.get("/api/v1/cart", Some(&token))
            .await
            .assert_error(403, "forbidden");
    }
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn admins_read_any_customers_cart_and_no_one_else_does() {
    let app = TestApp::start().await;
    let path = format!("/api/v1/admin/customers/{CUSTOMER_A}/cart");
    let body = app.get(&path, Some(&admin_token())).await.ok().clone();
    assert_eq!(body["customer_id"], CUSTOMER_A);
    app.get(&path, Some(&customer_token(CUSTOMER_A)))
        .await
        .assert_error(403, "forbidden");
    app.get(
        "/api/v1/admin/customers/not-a-uuid/cart",
        Some(&admin_token()),
    )
    .await
    .assert_error(400, "invalid_argument");
    app.get(
        &format!("/api/v1/admin/customers/{CUSTOMER_B}/cart"),
        Some(&admin_token()),
    )
    .await
    .assert_error(404, "not_found");
    let rpcs: Vec<_> = app
        .fake
        .received
        .all()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(
        rpcs,
        [CUSTOMER_A, CUSTOMER_B],
        "only the admin's valid calls went through"
    );
}
