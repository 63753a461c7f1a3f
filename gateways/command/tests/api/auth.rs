//! Bearer tokens and who may do what.

use std::time::Duration;

use command::{
    AuthConfig, ServiceKind,
    auth::{Claims, ROLE_ADMIN, ROLE_CUSTOMER, issue_token},
};
use event_store::testing::poll_until;
use proto::{customer::*, product::*};
use tokio::time::Instant;
use tonic::{Code, Request};
use uuid::Uuid;

use crate::{cart, helpers::*, order, payment, product::product_with_stock};

fn deposit(customer_id: Uuid) -> DepositBalanceRequest {
    DepositBalanceRequest {
        command_id: cid(),
        customer_id: customer_id.to_string(),
        amount: eur(100),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_are_unauthenticated() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let mut client = app.customers();

    assert_code(
        client.deposit_balance(Request::new(deposit(id))).await,
        Code::Unauthenticated,
    );
    assert_code(
        client
            .deposit_balance(authed(deposit(id), "not-a-jwt"))
            .await,
        Code::Unauthenticated,
    );
    let mut basic = Request::new(deposit(id));
    basic
        .metadata_mut()
        .insert("authorization", "Basic YWRtaW46YWRtaW4=".parse().unwrap());
    assert_code(client.deposit_balance(basic).await, Code::Unauthenticated);

    let mut other = AuthConfig::development();
    other.jwt_secret = "a-different-secret-that-is-long-enough!!".into();
    let forged = issue_token(
        &other,
        &Claims::new(
            "mallory",
            &[ROLE_ADMIN],
            "commerce",
            Duration::from_secs(60),
        ),
    );
    assert_code(
        client.deposit_balance(authed(deposit(id), &forged)).await,
        Code::Unauthenticated,
    );

    let mut claims = Claims::new("alice", &[ROLE_ADMIN], "commerce", Duration::ZERO);
    claims.exp -= 3_600;
    let expired = issue_token(&app.auth, &claims);
    let status = assert_code(
        client.deposit_balance(authed(deposit(id), &expired)).await,
        Code::Unauthenticated,
    );
    assert!(status.message().contains("expired"), "{status:?}");

    let foreign = issue_token(
        &app.auth,
        &Claims::new("alice", &[ROLE_ADMIN], "elsewhere", Duration::from_secs(60)),
    );
    assert_code(
        client.deposit_balance(authed(deposit(id), &foreign)).await,
        Code::Unauthenticated,
    );
    assert_eq!(app.db.event_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cannot_act_on_another_account_or_debit_their_own() {
    let app = spawn_app(ServiceKind::Customer).await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let me = app.customer(mine);
    let mut client = app.customers();
    for id in [mine, theirs] {
        client
            .register(authed(
                RegisterRequest {
                    command_id: cid(),
                    customer_id: id.to_string(),
                    email: "x@example.com".into(),
                    name: "X".into(),
                    currency: "EUR".into(),
                },
                &app.customer(id),
            ))
            .await
            .unwrap();
    }
    assert_code(
        client.deposit_balance(authed(deposit(theirs), &me)).await,
        Code::PermissionDenied,
    );
    assert_code(
        client
            .deactivate(authed(
                DeactivateRequest {
                    command_id: cid(),
                    customer_id: theirs.to_string(),
                },
                &me,
            ))
            .await,
        Code::PermissionDenied,
    );
    client
        .deposit_balance(authed(deposit(mine), &me))
        .await
        .unwrap();
    let debit = DebitBalanceRequest {
        command_id: cid(),
        customer_id: mine.to_string(),
        payment_id: Uuid::new_v4().to_string(),
        amount: eur(50),
    };
    assert_code(
        client.debit_balance(authed(debit.clone(), &me)).await,
        Code::PermissionDenied,
    );
    // A token with no role at all may not act even on "its own" id.
    let roleless = app.token(&mine.to_string(), &[]);
    assert_code(
        client
            .deposit_balance(authed(deposit(mine), &roleless))
            .await,
        Code::PermissionDenied,
    );
    client
        .debit_balance(authed(debit, &app.service()))
        .await
        .unwrap();
    assert_eq!(app.db.event_count().await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_management_needs_an_admin_and_reservations_a_service() {
    let app = spawn_app(ServiceKind::Product).await;
    let customer = app.token(&Uuid::new_v4().to_string(), &[ROLE_CUSTOMER]);
    let create = CreateProductRequest {
        command_id: cid(),
        product_id: Uuid::new_v4().to_string(),
        title: "Kettle".into(),
        description: String::new(),
    };
    let mut client = app.products();
    assert_code(
        client
            .create_product(authed(create.clone(), &customer))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        client
            .create_product(authed(create.clone(), &app.service()))
            .await,
        Code::PermissionDenied,
    );
    client
        .create_product(authed(create.clone(), &app.admin()))
        .await
        .unwrap();
    let reserve = ReserveStockRequest {
        command_id: cid(),
        product_id: create.product_id.clone(),
        reservation_id: Uuid::new_v4().to_string(),
        items: vec![StockLine {
            sku_id: Uuid::new_v4().to_string(),
            quantity: 1,
        }],
    };
    assert_code(
        client.reserve_stock(authed(reserve, &customer)).await,
        Code::PermissionDenied,
    );
    assert_code(
        app.stock()
            .get_sku_availability(Request::new(GetSkuAvailabilityRequest {
                product_id: create.product_id,
                sku_id: Uuid::new_v4().to_string(),
            }))
            .await,
        Code::Unauthenticated,
    );
    assert_eq!(app.db.event_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_is_its_customers_alone_and_a_service_may_only_clear_it() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 10).await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let me = app.customer(mine);
    let mut carts = app.carts();

    assert_code(
        carts
            .add_item(Request::new(cart::add(mine, &catalog, 1)))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        carts.clear(authed(cart::clear(mine), "not-a-jwt")).await,
        Code::Unauthenticated,
    );
    assert_code(
        carts
            .add_item(authed(cart::add(theirs, &catalog, 1), &me))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        carts
            .change_quantity(authed(cart::change(theirs, &catalog, 1), &me))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        carts.clear(authed(cart::clear(theirs), &me)).await,
        Code::PermissionDenied,
    );
    // A service fills no carts; an admin may.
    assert_code(
        carts
            .add_item(authed(cart::add(theirs, &catalog, 1), &app.service()))
            .await,
        Code::PermissionDenied,
    );
    carts
        .add_item(authed(cart::add(theirs, &catalog, 1), &app.admin()))
        .await
        .unwrap();
    carts
        .clear(authed(cart::clear(theirs), &app.service()))
        .await
        .unwrap();
    assert_eq!(
        app.db.event_count().await,
        3 + 2,
        "the catalog's 3 and the cart's 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_place_and_cancel_only_their_own_orders_and_services_drive_the_rest() {
    let app = spawn_app(ServiceKind::Order).await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    for customer in [mine, theirs] {
        order::seed_cart(&app, customer, &[order::line(customer, 100, 1)]).await;
    }
    let me = app.customer(mine);
    let mut orders = app.orders();

    assert_code(
        orders
            .place_order(Request::new(order::place(Uuid::new_v4(), mine)))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        orders
            .place_order(authed(order::place(Uuid::new_v4(), theirs), &me))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        orders
            .place_order(authed(order::place(Uuid::new_v4(), mine), &app.service()))
            .await,
        Code::PermissionDenied,
    );
    let their_order = Uuid::new_v4();
    orders
        .place_order(authed(
            order::place(their_order, theirs),
            &app.customer(theirs),
        ))
        .await
        .unwrap();
    let status = assert_code(
        orders.cancel(authed(order::cancel(their_order), &me)).await,
        Code::PermissionDenied,
    );
    assert!(status.message().contains("own account"), "{status:?}");
    let my_order = Uuid::new_v4();
    orders
        .place_order(authed(order::place(my_order, mine), &me))
        .await
        .unwrap();
    assert_code(
        orders
            .mark_stock_reserved(authed(order::mark_stock_reserved(my_order), &me))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        orders
            .mark_paid(authed(order::mark_paid(my_order, Uuid::new_v4(), 100), &me))
            .await,
        Code::PermissionDenied,
    );
    let roleless = app.token(&mine.to_string(), &[]);
    assert_code(
        orders
            .cancel(authed(order::cancel(Uuid::new_v4()), &roleless))
            .await,
        Code::PermissionDenied,
    );
    orders
        .mark_stock_reserved(authed(order::mark_stock_reserved(my_order), &app.service()))
        .await
        .unwrap();
    assert_eq!(
        app.db.event_count().await,
        2 + 3,
        "two cart lines, two orders placed, one reserved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_initiate_their_own_payments_and_only_services_settle_them() {
    let app = spawn_app(ServiceKind::Payment).await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let me = app.customer(mine);
    let mut payments = app.payments();
    let payment = Uuid::new_v4();
    payment::with_order(&app, mine).await;

    assert_code(
        payments
            .initiate(Request::new(payment::initiate(payment, mine, 100)))
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        payments
            .initiate(authed(payment::initiate(payment, theirs, 100), &me))
            .await,
        Code::PermissionDenied,
    );
    payments
        .initiate(authed(payment::initiate(payment, mine, 100), &me))
        .await
        .unwrap();
    assert_code(
        payments
            .capture(authed(payment::capture(payment), &me))
            .await,
        Code::PermissionDenied,
    );
    payments
        .capture(authed(payment::capture(payment), &app.service()))
        .await
        .unwrap();
    assert_eq!(
        app.db.event_count().await,
        1 + 2,
        "the seeded order, two payment events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_cannot_reach_an_order_another_customer_placed_after_the_cancel_arrived() {
    // The intruder cancels an order id before anyone placed it; the owner's placement commits
    // while the cancel waits. The check must run on the state the cancel is decided on (the
    // owner's order), not on what the order looked like when the cancel arrived (nothing).
    let app = spawn_app(ServiceKind::Order).await;
    let (owner, intruder) = (Uuid::new_v4(), Uuid::new_v4());
    order::seed_cart(&app, owner, &[order::line(owner, 800, 1)]).await;
    let order_id = Uuid::new_v4();

    // Hold every append back (reads go on): the placement decides, then waits at its append
    // while holding the server's queue for that order, so the cancel decides after it.
    let mut blocker = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let placement = tokio::spawn({
        let mut orders = app.orders();
        let request = authed(order::place(order_id, owner), &app.customer(owner));
        async move { orders.place_order(request).await }
    });
    let pool = app.db.pool.clone();
    let waiting: i64 = poll_until(Instant::now() + Duration::from_secs(10), || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' \
               AND query LIKE '%INSERT INTO events%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (n > 0).then_some(n)
    })
    .await
    .expect("the placement waits at its append");
    assert_eq!(waiting, 1);
    let sent_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let cancel = tokio::spawn({
        let mut orders = app.orders();
        let request = authed(order::cancel(order_id), &app.customer(intruder));
        async move { orders.cancel(request).await }
    });
    // A check done on arrival reads the order's stream now, before queueing; wait until such a
    // read has finished (or give up after a second: checked on the decided state, the cancel
    // reads nothing before it queues, and the outcome cannot depend on this wait).
    let _ = poll_until(Instant::now() + Duration::from_secs(1), || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND state = 'idle' AND query_start > $1 \
               AND query LIKE '%FROM events WHERE stream_id = $1 AND stream_version >= $2%'",
        )
        .bind(sent_at)
        .fetch_one(&pool)
        .await
        .unwrap();
        (n > 0).then_some(n)
    })
    .await;
    blocker.rollback().await.unwrap();

    placement
        .await
        .unwrap()
        .expect("the owner places the order");
    let status = assert_code(cancel.await.unwrap(), Code::PermissionDenied);
    assert!(status.message().contains("own account"), "{status:?}");
    let types = app.event_types(&format!("order-{order_id}")).await;
    assert_eq!(types, ["OrderPlaced"], "the owner's order stays placed");
}
