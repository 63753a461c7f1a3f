//! The checkout routes: `GET /api/v1/orders/{order_id}/checkout` and
//! `GET /api/v1/admin/checkouts/stuck`, against the fake query service and, at the end, the real
//! one over the real `checkouts` read model.

use std::time::Duration;

use axum::http::Method;
use http_api::{AppState, HttpConfig, router};
use query::testing::{World, admin, customer};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn a_customer_reads_the_checkout_of_their_own_order() {
    let app = TestApp::start().await;
    let body = app
        .get(
            &format!("/api/v1/orders/{ORDER_A1}/checkout"),
            Some(&customer_token(CUSTOMER_A)),
        )
        .await
        .ok()
        .clone();
    assert_eq!(body["order_id"], ORDER_A1);
    assert_eq!(body["customer_id"], CUSTOMER_A);
    assert_eq!(body["status"], "running");
    assert_eq!(body["total"]["amount_minor"], 5000);
    assert_eq!(body["timeline"][1]["kind"], "CheckoutStepSucceeded");
    assert_eq!(body["timeline"][1]["step"], format!("reserve:{PRODUCT}"));
    let seen = app.fake.received.only();
    assert_eq!((seen.rpc, seen.id.as_str()), ("GetCheckout", ORDER_A1));
}

#[tokio::test]
async fn another_customers_checkout_is_refused_as_their_order_is_and_an_unknown_one_404() {
    let app = TestApp::start().await;
    let token = customer_token(CUSTOMER_A);
    // The orders route's rule: another customer's order is 403, an unknown one 404.
    app.get(&format!("/api/v1/orders/{ORDER_B1}"), Some(&token))
        .await
        .assert_error(403, "forbidden");
    app.get(&format!("/api/v1/orders/{ORDER_B1}/checkout"), Some(&token))
        .await
        .assert_error(403, "forbidden");
    app.get(
        "/api/v1/orders/44444444-4444-4444-8444-444444444444/checkout",
        Some(&token),
    )
    .await
    .assert_error(404, "not_found");
    let body = app
        .get(
            &format!("/api/v1/orders/{ORDER_B1}/checkout"),
            Some(&admin_token()),
        )
        .await
        .ok()
        .clone();
    assert_eq!(body["customer_id"], CUSTOMER_B);
}

#[tokio::test]
async fn the_checkout_route_needs_a_token_and_a_uuid_before_any_grpc_call() {
    let app = TestApp::start().await;
    app.get(&format!("/api/v1/orders/{ORDER_A1}/checkout"), None)
        .await
        .assert_error(401, "unauthenticated");
    let message = app
        .get(
            "/api/v1/orders/order-1/checkout",
            Some(&customer_token(CUSTOMER_A)),
        )
        .await
        .assert_error(400, "invalid_argument");
    assert_eq!(message, "order_id must be a UUID");
    assert!(app.fake.received.all().is_empty());
}

#[tokio::test]
async fn only_admins_list_the_stuck_checkouts_with_paging_passed_on() {
    let app = TestApp::start().await;
    let path = "/api/v1/admin/checkouts/stuck";
    app.get(path, None)
        .await
        .assert_error(401, "unauthenticated");
    app.get(path, Some(&customer_token(CUSTOMER_A)))
        .await
        .assert_error(403, "forbidden");
    app.get(path, Some(&service_token()))
        .await
        .assert_error(403, "forbidden");
    for bad in ["0", "101", "abc"] {
        app.get(&format!("{path}?limit={bad}"), Some(&admin_token()))
            .await
            .assert_error(400, "invalid_argument");
    }
    assert!(
        app.fake.received.all().is_empty(),
        "refused before any call"
    );

    let body = app
        .get(&format!("{path}?limit=5&cursor=17"), Some(&admin_token()))
        .await
        .ok()
        .clone();
    let stuck = body["checkouts"].as_array().unwrap();
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0]["order_id"], ORDER_B1);
    assert_eq!(stuck[0]["reason"], "deadline passed");
    assert_eq!(body["next_cursor"], "");
    let seen = app.fake.received.only();
    assert_eq!(
        (seen.rpc, seen.limit, seen.cursor.as_str()),
        ("ListStuckCheckouts", 5, "17")
    );
    app.get(&format!("{path}?cursor={BAD_CURSOR}"), Some(&admin_token()))
        .await
        .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn the_document_declares_both_checkout_routes_with_their_formats() {
    let app = TestApp::start().await;
    let doc = app.get("/api/v1/openapi.json", None).await.ok().clone();
    let checkout = &doc["paths"]["/api/v1/orders/{order_id}/checkout"]["get"];
    let id = checkout["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["in"] == "path")
        .unwrap();
    assert_eq!(
        (&id["name"], &id["schema"]["format"]),
        (&"order_id".into(), &"uuid".into())
    );
    assert_eq!(
        checkout["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Checkout"
    );
    for status in ["401", "403", "404"] {
        assert!(checkout["responses"][status].is_object(), "{status}");
    }
    let stuck = &doc["paths"]["/api/v1/admin/checkouts/stuck"]["get"];
    assert_eq!(stuck["tags"], serde_json::json!(["admin"]));
    let query: Vec<&serde_json::Value> = stuck["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .collect();
    assert_eq!(query.len(), 2);
    assert_eq!(
        (
            &query[0]["name"],
            &query[0]["schema"]["minimum"],
            &query[0]["schema"]["maximum"]
        ),
        (&"limit".into(), &1.into(), &100.into())
    );
    assert_eq!(query[1]["name"], "cursor");
    assert_eq!(
        stuck["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ListStuckCheckoutsResponse"
    );
    assert!(stuck["responses"]["403"].is_object());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Checkout",
        "CheckoutTimelineEntry",
        "ListStuckCheckoutsResponse",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

#[tokio::test]
async fn the_checkout_routes_answer_from_the_real_read_model() {
    let mut world = World::start(Duration::from_secs(2)).await;
    let c = world.write_checkouts().await;
    let mut config = HttpConfig::local();
    config.query_endpoint = format!("http://{}", world.query_addr);
    let http = router(AppState::new(&config).expect("valid endpoint"));
    let get = |path: String, bearer: Option<String>| {
        let http = http.clone();
        async move { send(&http, Method::GET, &path, bearer.as_deref(), &[]).await }
    };
    let (alice, bob) = (Some(customer(c.alice)), Some(customer(c.bob)));

    let own = get(
        format!("/api/v1/orders/{}/checkout", c.out_of_stock),
        alice.clone(),
    )
    .await;
    let own = own.ok();
    assert_eq!(
        (&own["status"], &own["reason"]),
        (&"cancelled".into(), &"out of stock".into())
    );
    assert_eq!(own["timeline"].as_array().unwrap().len(), 7);
    assert_eq!(own["timeline"][2]["detail"], "only 0 of 1 available");
    let token = format!("checkout-{}@6", c.out_of_stock);
    let path = format!("/api/v1/orders/{}/checkout", c.out_of_stock);
    send(
        &http,
        Method::GET,
        &path,
        alice.as_deref(),
        &[("x-consistency-token", &token)],
    )
    .await
    .ok();
    get(
        format!("/api/v1/orders/{}/checkout", c.out_of_stock),
        bob.clone(),
    )
    .await
    .assert_error(403, "forbidden");
    get(
        format!("/api/v1/orders/{}/checkout", Uuid::new_v4()),
        alice.clone(),
    )
    .await
    .assert_error(404, "not_found");
    get(format!("/api/v1/orders/{}/checkout", c.out_of_stock), None)
        .await
        .assert_error(401, "unauthenticated");
    get("/api/v1/orders/42/checkout".into(), alice.clone())
        .await
        .assert_error(400, "invalid_argument");

    get("/api/v1/admin/checkouts/stuck".into(), alice)
        .await
        .assert_error(403, "forbidden");
    let stuck = get("/api/v1/admin/checkouts/stuck".into(), Some(admin())).await;
    let ids: Vec<&str> = stuck.ok()["checkouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["order_id"].as_str().unwrap())
        .collect();
    let expected = [c.waiting, c.compensating, c.refunding].map(|id| id.to_string());
    assert_eq!(ids, expected);
    let first = get(
        "/api/v1/admin/checkouts/stuck?limit=2".into(),
        Some(admin()),
    )
    .await;
    let cursor = first.ok()["next_cursor"].as_str().unwrap().to_owned();
    let rest = get(
        format!("/api/v1/admin/checkouts/stuck?limit=2&cursor={cursor}"),
        Some(admin()),
    )
    .await;
    assert_eq!(rest.ok()["checkouts"][0]["order_id"], expected[2]);
    assert_eq!(rest.ok()["next_cursor"], "");
}
