//! The gateway in front of the real query service, over read models that the real projection
//! runtime built from a checkout story in a fresh event log (PostgreSQL and Redis): every
//! route's success and refusals, and a consistency token that makes a read right after a write
//! see it.

use std::time::Duration;

use aggregates::{Currency, Customer, CustomerId, customer::CustomerCommand};
use axum::http::Method;
use http_api::{AppState, HttpConfig, router};
use projections::testing::{Stream, story::eur, t};
use query::testing::{World, admin, apply, customer};
use uuid::Uuid;

use crate::helpers::send;

/// The gateway's router over the world's query server.
fn gateway(world: &World) -> axum::Router {
    let mut config = HttpConfig::local();
    config.query_endpoint = format!("http://{}", world.query_addr);
    router(AppState::new(&config).expect("valid endpoint"))
}

#[tokio::test]
async fn every_route_answers_from_the_real_read_models() {
    let world = World::start(Duration::from_secs(2)).await;
    let s = &world.story;
    let http = gateway(&world);
    let get = |path: String, bearer: String| {
        let http = http.clone();
        async move { send(&http, Method::GET, &path, Some(&bearer), &[]).await }
    };
    let alice = customer(s.alice);
    let bob = customer(s.bob);

    let me = get("/api/v1/me".into(), alice.clone()).await;
    assert_eq!(me.ok()["name"], "Alice Liddell");
    assert_eq!(me.ok()["balance"]["amount_minor"], 20_000 - 15_497);
    let cart = get("/api/v1/cart".into(), alice.clone()).await;
    assert_eq!(cart.ok()["customer_id"], s.alice.to_string());
    assert_eq!(cart.ok()["valid"], false, "the tent is discontinued");
    let products = get("/api/v1/products?q=trail&limit=10".into(), bob.clone()).await;
    let titles: Vec<_> = products.ok()["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["Trail Shoe", "Trail Vest"]);
    let shoe = get(format!("/api/v1/products/{}", s.shoe), bob.clone()).await;
    assert_eq!(shoe.ok()["skus"].as_array().unwrap().len(), 2);

    // Orders, paged by cursor, and filtered.
    let first = get("/api/v1/orders?limit=2".into(), alice.clone()).await;
    let first = first.ok().clone();
    assert_eq!(first["orders"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let rest = get(
        format!("/api/v1/orders?limit=2&cursor={cursor}"),
        alice.clone(),
    )
    .await;
    let ids: Vec<_> = first["orders"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.ok()["orders"].as_array().unwrap())
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [s.o3, s.o2, s.o1].map(|id| id.to_string()));
    assert_eq!(rest.ok()["next_cursor"], "");
    let shipped = get("/api/v1/orders?status=shipped".into(), alice.clone()).await;
    assert_eq!(shipped.ok()["orders"][0]["order_id"], s.o1.to_string());
    let o1 = get(format!("/api/v1/orders/{}", s.o1), alice.clone()).await;
    assert_eq!(o1.ok()["status"], "shipped");
    let payments = get("/api/v1/payments".into(), alice.clone()).await;
    assert_eq!(payments.ok()["payments"].as_array().unwrap().len(), 3);
    let pay1 = get(format!("/api/v1/payments/{}", s.pay1), alice.clone()).await;
    assert_eq!(pay1.ok()["status"], "captured");

    // Admin routes.
    let admin = admin();
    let seen = get(
        format!("/api/v1/admin/customers/{}", s.alice),
        admin.clone(),
    )
    .await;
    assert_eq!(seen.ok()["email"], "alice@example.org");
    for tail in ["cart", "orders", "payments"] {
        get(
            format!("/api/v1/admin/customers/{}/{tail}", s.alice),
            admin.clone(),
        )
        .await
        .ok();
    }

    // Refusals: 401, 403, 404, 400.
    send(&http, Method::GET, "/api/v1/me", None, &[])
        .await
        .assert_error(401, "unauthenticated");
    get(format!("/api/v1/orders/{}", s.o1), bob.clone())
        .await
        .assert_error(403, "forbidden");
    get(format!("/api/v1/payments/{}", s.pay1), bob.clone())
        .await
        .assert_error(403, "forbidden");
    get(
        format!("/api/v1/admin/customers/{}", s.alice),
        alice.clone(),
    )
    .await
    .assert_error(403, "forbidden");
    get(format!("/api/v1/orders/{}", Uuid::new_v4()), alice.clone())
        .await
        .assert_error(404, "not_found");
    get(
        format!("/api/v1/products/{}", Uuid::new_v4()),
        alice.clone(),
    )
    .await
    .assert_error(404, "not_found");
    get("/api/v1/orders?status=lost".into(), alice.clone())
        .await
        .assert_error(400, "invalid_argument");
    get("/api/v1/orders?cursor=abc".into(), alice.clone())
        .await
        .assert_error(400, "invalid_argument");
    get(
        format!("/api/v1/products?cursor={}", Uuid::new_v4()),
        alice.clone(),
    )
    .await
    .assert_error(400, "invalid_argument");
}

#[tokio::test]
async fn a_consistency_token_makes_a_read_right_after_a_write_see_it() {
    let mut world = World::start(Duration::from_millis(500)).await;
    let http = gateway(&world);
    let carol_id: CustomerId = Uuid::new_v4().into();
    let carol = customer(carol_id);
    let mut stream = Stream::<Customer>::new(&carol_id);
    stream
        .run(
            &mut world.log,
            CustomerCommand::Register {
                customer_id: carol_id,
                email: "carol@example.com".into(),
                name: "Carol".into(),
                currency: Currency::EUR,
                at: t(40),
            },
        )
        .await;
    let stream_id = format!("customer-{carol_id}");
    let header = |version: u64| format!("{stream_id}@{version}");

    // Written, not yet projected: without a token 404 at once; with it, 503 after the wait.
    send(&http, Method::GET, "/api/v1/me", Some(&carol), &[])
        .await
        .assert_error(404, "not_found");
    let late = send(
        &http,
        Method::GET,
        "/api/v1/me",
        Some(&carol),
        &[("x-consistency-token", &header(0))],
    )
    .await;
    late.assert_error(503, "not_yet_consistent");
    assert!(late.headers.contains_key("retry-after"));

    // The worker applies the registration while a read with the token waits: it sees it.
    let events = world.events_from(&stream_id, 0).await;
    let waiting = tokio::spawn({
        let http = http.clone();
        let (carol, token) = (carol.clone(), header(0));
        async move {
            send(
                &http,
                Method::GET,
                "/api/v1/me",
                Some(&carol),
                &[("x-consistency-token", &token)],
            )
            .await
        }
    });
    world.until_queries_wait(1).await;
    apply(&world.runtime, &events).await;
    let me = waiting.await.unwrap();
    assert_eq!(me.ok()["name"], "Carol");
    assert_eq!(world.consistency.waits_in_flight(), 0);

    // A deposit right after: the read with its token shows the new balance, never the cached
    // answer of version 0.
    stream
        .run(
            &mut world.log,
            CustomerCommand::DepositBalance {
                amount: eur(1_250),
                at: t(41),
            },
        )
        .await;
    let events = world.events_from(&stream_id, 1).await;
    let runtime_apply = apply(&world.runtime, &events);
    let token = header(1);
    let headers = [("x-consistency-token", token.as_str())];
    let read = send(&http, Method::GET, "/api/v1/me", Some(&carol), &headers);
    let ((), me) = tokio::join!(runtime_apply, read);
    assert_eq!(me.ok()["balance"]["amount_minor"], 1_250);
    assert_eq!(me.ok()["version"], 1);
}
