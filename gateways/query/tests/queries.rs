//! The query services against real read models: a checkout story is written to a fresh event
//! log, applied by the projection runtime (markers included) to PostgreSQL and to a Redis key
//! prefix of this test's own, and read back over gRPC through a real `commerce-query` server.

use std::time::Duration;

use ::query::testing::{World, admin, apply, assert_code, authed, customer, token};
use aggregates::{Currency, Customer, CustomerId, customer::CustomerCommand};
use auth::{AuthConfig, Claims, ROLE_CUSTOMER, ROLE_SERVICE, issue_token};
use projections::testing::{Stream, story::eur, t};
use proto::query::{
    self, ConsistencyToken, cart_queries_client::CartQueriesClient,
    catalog_queries_client::CatalogQueriesClient, customer_queries_client::CustomerQueriesClient,
    order_queries_client::OrderQueriesClient, payment_queries_client::PaymentQueriesClient,
};
use tonic::Code;
use uuid::Uuid;

#[tokio::test]
async fn every_query_answers_from_the_read_models_for_its_owner() {
    let world = World::start(Duration::from_secs(2)).await;
    let s = &world.story;
    let alice = customer(s.alice);
    let bob = customer(s.bob);
    let mut customers = CustomerQueriesClient::new(world.channel.clone());
    let mut carts = CartQueriesClient::new(world.channel.clone());
    let mut orders = OrderQueriesClient::new(world.channel.clone());
    let mut payments = PaymentQueriesClient::new(world.channel.clone());
    let mut catalog = CatalogQueriesClient::new(world.channel.clone());

    // Customer profile and balance: 200.00 deposited, 154.97 paid for order 1.
    let me = customers
        .get_customer(authed(
            &alice,
            query::GetCustomerRequest {
                customer_id: s.alice.to_string(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.name, "Alice Liddell");
    assert_eq!(me.email, "alice@example.org");
    assert_eq!(me.status, "active");
    let balance = me.balance.unwrap();
    assert_eq!(
        (balance.currency.as_str(), balance.amount_minor),
        ("EUR", 20_000 - 15_497)
    );

    // The cart, with the discontinued tent marked invalid.
    let cart = carts
        .get_cart(authed(
            &alice,
            query::GetCartRequest {
                customer_id: s.alice.to_string(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!cart.lines.is_empty());
    let tent = cart
        .lines
        .iter()
        .find(|line| line.product_id == s.tent.to_string())
        .expect("the tent is in the cart");
    assert!(!tent.valid);
    assert_eq!(tent.problem.as_deref(), Some("not_sold"));
    assert!(!cart.valid);

    // Orders: three, newest first, paged one at a time, filtered by status.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = orders
            .list_orders(authed(
                &alice,
                query::ListOrdersRequest {
                    customer_id: s.alice.to_string(),
                    status: String::new(),
                    limit: 1,
                    cursor: cursor.clone(),
                    consistency: None,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.orders.len() <= 1);
        seen.extend(page.orders.into_iter().map(|order| order.order_id));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(
        seen,
        [s.o3, s.o2, s.o1].map(|id| id.to_string()),
        "newest first, each once"
    );
    let shipped = orders
        .list_orders(authed(
            &alice,
            query::ListOrdersRequest {
                customer_id: s.alice.to_string(),
                status: "shipped".into(),
                limit: 0,
                cursor: String::new(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        shipped
            .orders
            .iter()
            .map(|o| o.order_id.clone())
            .collect::<Vec<_>>(),
        vec![s.o1.to_string()]
    );
    let o1 = orders
        .get_order(authed(
            &alice,
            query::GetOrderRequest {
                order_id: s.o1.to_string(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(o1.status, "shipped");
    assert_eq!(o1.total.unwrap().amount_minor, 15_497);
    assert_eq!(o1.lines.len(), 2);
    assert!(o1.timeline.unwrap().shipped_at.is_some());

    // Payments.
    let mine = payments
        .list_payments(authed(
            &alice,
            query::ListPaymentsRequest {
                customer_id: s.alice.to_string(),
                limit: 10,
                cursor: String::new(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.payments.len(), 3);
    let pay1 = payments
        .get_payment(authed(
            &alice,
            query::GetPaymentRequest {
                payment_id: s.pay1.to_string(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (pay1.status.as_str(), pay1.method.as_str()),
        ("captured", "balance")
    );

    // Catalog: any authenticated caller; prefix filter ignores case; detail has SKUs.
    let trail = catalog
        .list_products(authed(
            &bob,
            query::ListProductsRequest {
                limit: 10,
                cursor: String::new(),
                title_prefix: "TRAIL".into(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let titles: Vec<_> = trail.products.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Trail Shoe", "Trail Vest"]);
    let shoe = catalog
        .get_product(authed(
            &bob,
            query::GetProductRequest {
                product_id: s.shoe.to_string(),
                consistency: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shoe.skus.len(), 2);
    assert!(shoe.skus.iter().all(|sku| sku.available <= sku.on_hand));

    // An admin reads anyone's data.
    let admin = admin();
    customers
        .get_customer(authed(
            &admin,
            query::GetCustomerRequest {
                customer_id: s.alice.to_string(),
                consistency: None,
            },
        ))
        .await
        .expect("an admin reads any customer");
    orders
        .get_order(authed(
            &admin,
            query::GetOrderRequest {
                order_id: s.o1.to_string(),
                consistency: None,
            },
        ))
        .await
        .expect("an admin reads any order");
}

#[tokio::test]
async fn refusals_name_their_reason() {
    let world = World::start(Duration::from_secs(2)).await;
    let s = &world.story;
    let alice = customer(s.alice);
    let bob = customer(s.bob);
    let mut customers = CustomerQueriesClient::new(world.channel.clone());
    let mut orders = OrderQueriesClient::new(world.channel.clone());
    let mut payments = PaymentQueriesClient::new(world.channel.clone());
    let mut carts = CartQueriesClient::new(world.channel.clone());
    let mut catalog = CatalogQueriesClient::new(world.channel.clone());

    // No token, a bad one, an expired one.
    let request = || query::GetProductRequest {
        product_id: s.shoe.to_string(),
        consistency: None,
    };
    assert_code(
        catalog.get_product(request()).await,
        Code::Unauthenticated,
        "no token",
    );
    assert_code(
        catalog.get_product(authed("not-a-jwt", request())).await,
        Code::Unauthenticated,
        "garbage token",
    );
    let mut expired = Claims::new("x", &[ROLE_CUSTOMER], "commerce", Duration::ZERO);
    expired.exp -= 120;
    let expired = issue_token(&AuthConfig::development(), &expired);
    assert_code(
        catalog.get_product(authed(&expired, request())).await,
        Code::Unauthenticated,
        "expired token",
    );

    // Another customer's data: 403; a service token may not read a customer's profile.
    let other = |id: &str| query::GetOrderRequest {
        order_id: id.to_owned(),
        consistency: None,
    };
    assert_code(
        orders
            .get_order(authed(&bob, other(&s.o1.to_string())))
            .await,
        Code::PermissionDenied,
        "bob reads alice's order",
    );
    assert_code(
        payments
            .get_payment(authed(
                &bob,
                query::GetPaymentRequest {
                    payment_id: s.pay1.to_string(),
                    consistency: None,
                },
            ))
            .await,
        Code::PermissionDenied,
        "bob reads alice's payment",
    );
    assert_code(
        carts
            .get_cart(authed(
                &bob,
                query::GetCartRequest {
                    customer_id: s.alice.to_string(),
                    consistency: None,
                },
            ))
            .await,
        Code::PermissionDenied,
        "bob reads alice's cart",
    );
    assert_code(
        customers
            .get_customer(authed(
                &token("cart", &[ROLE_SERVICE]),
                query::GetCustomerRequest {
                    customer_id: s.alice.to_string(),
                    consistency: None,
                },
            ))
            .await,
        Code::PermissionDenied,
        "a service token reads a profile",
    );

    // Unknown ids: 404; malformed arguments: 400.
    assert_code(
        orders
            .get_order(authed(&alice, other(&Uuid::new_v4().to_string())))
            .await,
        Code::NotFound,
        "unknown order",
    );
    assert_code(
        orders.get_order(authed(&alice, other("42"))).await,
        Code::InvalidArgument,
        "order id not a uuid",
    );
    assert_code(
        catalog
            .get_product(authed(
                &alice,
                query::GetProductRequest {
                    product_id: Uuid::new_v4().to_string(),
                    consistency: None,
                },
            ))
            .await,
        Code::NotFound,
        "unknown product",
    );
    let list = |limit, status: &str, cursor: &str| query::ListOrdersRequest {
        customer_id: s.alice.to_string(),
        status: status.to_owned(),
        limit,
        cursor: cursor.to_owned(),
        consistency: None,
    };
    for (request, what) in [
        (list(101, "", ""), "limit too large"),
        (list(10, "lost", ""), "unknown status"),
        (list(10, "", "abc"), "malformed cursor"),
    ] {
        let status = assert_code(
            orders.list_orders(authed(&alice, request)).await,
            Code::InvalidArgument,
            what,
        );
        assert!(!status.message().is_empty());
    }
    assert_code(
        catalog
            .list_products(authed(
                &alice,
                query::ListProductsRequest {
                    limit: 5,
                    cursor: Uuid::new_v4().to_string(),
                    title_prefix: String::new(),
                    consistency: None,
                },
            ))
            .await,
        Code::InvalidArgument,
        "a product cursor no page returned",
    );
    // A token of a stream the read model does not follow, or not a stream id at all.
    for (stream_id, what) in [
        (format!("order-{}", s.o1), "order token on customers"),
        ("no dash".to_owned(), "malformed stream id"),
    ] {
        assert_code(
            customers
                .get_customer(authed(
                    &alice,
                    query::GetCustomerRequest {
                        customer_id: s.alice.to_string(),
                        consistency: Some(ConsistencyToken {
                            stream_id,
                            version: 0,
                        }),
                    },
                ))
                .await,
            Code::InvalidArgument,
            what,
        );
    }
}

#[tokio::test]
async fn a_consistency_token_waits_for_the_write_and_bypasses_older_cached_answers() {
    let mut world = World::start(Duration::from_millis(400)).await;
    let carol_id: CustomerId = Uuid::new_v4().into();
    let carol = customer(carol_id);
    let mut customers = CustomerQueriesClient::new(world.channel.clone());
    let get = |consistency: Option<ConsistencyToken>| {
        authed(
            &carol,
            query::GetCustomerRequest {
                customer_id: carol_id.to_string(),
                consistency,
            },
        )
    };
    let stream_id = format!("customer-{carol_id}");
    let token = |version| {
        Some(ConsistencyToken {
            stream_id: stream_id.clone(),
            version,
        })
    };

    // Registered in the log but not yet projected: without a token 404 at once; with the
    // command's token the service waits its bound, then answers not_yet_consistent.
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
    assert_code(
        customers.get_customer(get(None)).await,
        Code::NotFound,
        "not projected yet",
    );
    let started = std::time::Instant::now();
    let status = assert_code(
        customers.get_customer(get(token(0))).await,
        Code::Unavailable,
        "token not reached",
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(
        status.message().starts_with("not_yet_consistent:"),
        "{status:?}"
    );
    assert_eq!(
        status.metadata().get("x-error-reason").unwrap(),
        "not_yet_consistent"
    );

    // The worker applies the registration while a query with the token waits: it answers.
    let events = world.events_from(&stream_id, 0).await;
    let waiting = tokio::spawn({
        let mut customers = customers.clone();
        let request = get(token(0));
        async move { customers.get_customer(request).await }
    });
    world.until_queries_wait(1).await;
    apply(&world.runtime, &events).await;
    let carol_v0 = waiting
        .await
        .unwrap()
        .expect("answered once projected")
        .into_inner();
    assert_eq!(world.consistency.waits_in_flight(), 0);
    assert_eq!(
        (carol_v0.version, carol_v0.balance.unwrap().amount_minor),
        (0, 0)
    );

    // Cached at version 0. A deposit (version 1) is projected: a query without a token may be
    // answered from the cache; one with the deposit's token never is.
    let (hits_before, _) = world.cache.counts("customer");
    stream
        .run(
            &mut world.log,
            CustomerCommand::DepositBalance {
                amount: eur(700),
                at: t(41),
            },
        )
        .await;
    let events = world.events_from(&stream_id, 1).await;
    apply(&world.runtime, &events).await;
    let cached = customers
        .get_customer(get(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cached.version, 0, "served from the cache within its TTL");
    assert_eq!(world.cache.counts("customer").0, hits_before + 1);
    let fresh = customers
        .get_customer(get(token(1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (fresh.version, fresh.balance.unwrap().amount_minor),
        (1, 700)
    );
    // The fresh answer replaced the older entry.
    let again = customers
        .get_customer(get(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.version, 1);
}
