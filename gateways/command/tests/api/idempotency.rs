//! The same command id twice: one set of events, the same response (design note 4).

use aggregates::{CustomerId, cart::CartEvent};
use chrono::Utc;
use command_service::ServiceKind;
use commerce_proto::customer::*;
use futures::future::join_all;
use tonic::Code;
use uuid::Uuid;

use crate::{
    cart,
    helpers::*,
    order, payment,
    product::{availability, product_with_stock, reserve},
};

async fn registered(app: &TestApp) -> Uuid {
    let id = Uuid::new_v4();
    app.customers()
        .register(authed(
            RegisterRequest {
                command_id: cid(),
                customer_id: id.to_string(),
                email: "ada@example.com".into(),
                name: "Ada".into(),
                currency: "EUR".into(),
            },
            &app.admin(),
        ))
        .await
        .unwrap();
    id
}

fn deposit(command_id: &str, customer_id: Uuid, amount: i64) -> DepositBalanceRequest {
    DepositBalanceRequest {
        command_id: command_id.to_owned(),
        customer_id: customer_id.to_string(),
        amount: eur(amount),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_twice_appends_once_and_answers_the_same() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = registered(&app).await;
    let admin = app.admin();
    let command_id = cid();
    let mut client = app.customers();
    let first = client
        .deposit_balance(authed(deposit(&command_id, id, 700), &admin))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .deposit_balance(authed(deposit(&command_id, id, 700), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(app.events(&format!("customer-{id}")).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_later_commands_returns_the_original_result_without_deciding_again() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = registered(&app).await;
    let admin = app.admin();
    let command_id = cid();
    let mut client = app.customers();
    let first = client
        .deposit_balance(authed(deposit(&command_id, id, 700), &admin))
        .await
        .unwrap()
        .into_inner();
    client
        .deposit_balance(authed(deposit(&cid(), id, 300), &admin))
        .await
        .unwrap();
    // Retried late, even with a different body: the stored result, nothing new decided.
    let late = client
        .deposit_balance(authed(deposit(&command_id, id, 999), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(late, first);
    let events = app.events(&format!("customer-{id}")).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].data["balance"]["amount_minor"], 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_many_times_at_once_appends_once() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 100).await;
    let service = app.service();
    let request = reserve(&catalog, Uuid::new_v4(), 7);
    let responses = join_all((0..10).map(|_| {
        let mut client = app.products();
        let request = authed(request.clone(), &service);
        async move { client.reserve_stock(request).await }
    }))
    .await;
    let results: Vec<_> = responses
        .into_iter()
        .map(|r| r.expect("every copy succeeds").into_inner())
        .collect();
    assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
    assert_eq!(availability(&app, &catalog).await.reserved, 7);
    let reserved = app
        .events(&format!("product-{}", catalog.product_id))
        .await
        .into_iter()
        .filter(|e| e.event_type == "StockReserved")
        .count();
    assert_eq!(reserved, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_reused_for_another_aggregate_is_rejected() {
    let app = spawn_app(ServiceKind::Customer).await;
    let (a, b) = (registered(&app).await, registered(&app).await);
    let admin = app.admin();
    let command_id = cid();
    let mut client = app.customers();
    client
        .deposit_balance(authed(deposit(&command_id, a, 100), &admin))
        .await
        .unwrap();
    let status = assert_code(
        client
            .deposit_balance(authed(deposit(&command_id, b, 100), &admin))
            .await,
        Code::InvalidArgument,
    );
    assert!(status.message().contains("command id"), "{status:?}");
    assert_eq!(app.events(&format!("customer-{b}")).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_id_lookup_is_served_by_an_index() {
    let app = spawn_app(ServiceKind::Customer).await;
    let mut tx = app.db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<(String,)> = sqlx::query_as(
        "EXPLAIN SELECT stream_id, stream_version, position FROM events \
         WHERE metadata ->> 'command_id' = $1 ORDER BY stream_version DESC LIMIT 1",
    )
    .bind(Uuid::new_v4().to_string())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let plan = plan
        .into_iter()
        .map(|(line,)| line)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("events_command_id_idx"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_added_twice_with_one_command_id_is_added_once() {
    let app = spawn_cart().await;
    let catalog = product_with_stock(&app, 10).await;
    let customer = Uuid::new_v4();
    let token = app.customer(customer);
    let request = cart::add(customer, &catalog, 3);
    let responses = join_all((0..5).map(|_| {
        let mut client = app.carts();
        let request = authed(request.clone(), &token);
        async move { client.add_item(request).await }
    }))
    .await;
    let results: Vec<_> = responses
        .into_iter()
        .map(|r| r.expect("every copy succeeds").into_inner())
        .collect();
    assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
    let again = app
        .carts()
        .add_item(authed(request, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, results[0]);
    let events = app.events(&format!("cart-{customer}")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["line_quantity"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_placed_twice_is_placed_once_even_after_the_cart_was_cleared() {
    let app = spawn_app(ServiceKind::Order).await;
    let customer = Uuid::new_v4();
    order::seed_cart(&app, customer, &[order::line(customer, 800, 2)]).await;
    let token = app.customer(customer);
    let order_id = Uuid::new_v4();
    let request = order::place(order_id, customer);
    let mut orders = app.orders();
    let first = orders
        .place_order(authed(request.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    // The saga clears the cart; the client, never having seen the answer, retries.
    order::seed_cart(
        &app,
        customer,
        &[CartEvent::CartCleared {
            customer_id: CustomerId(customer),
            at: Utc::now(),
        }],
    )
    .await;
    let retried = orders
        .place_order(authed(request, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, first);
    assert_eq!(app.events(&format!("order-{order_id}")).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_initiated_many_times_at_once_is_initiated_once() {
    let app = spawn_app(ServiceKind::Payment).await;
    let (payment_id, customer) = (Uuid::new_v4(), Uuid::new_v4());
    let token = app.customer(customer);
    let request = payment::initiate(payment_id, customer, 1_500);
    let responses = join_all((0..10).map(|_| {
        let mut client = app.payments();
        let request = authed(request.clone(), &token);
        async move { client.initiate(request).await }
    }))
    .await;
    let results: Vec<_> = responses
        .into_iter()
        .map(|r| r.expect("every copy succeeds").into_inner())
        .collect();
    assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
    assert_eq!(app.events(&format!("payment-{payment_id}")).await.len(), 1);
}
