//! The same command id twice: one set of events, the same response; the same command id with a
//! different request: refused (docs/command-fingerprints.md). Copies sent at once go through
//! several replicas of the service, so they race through the event log rather than queueing
//! behind one process's per-stream lock.

use aggregates::{CustomerId, cart::CartEvent};
use chrono::Utc;
use command::ServiceKind;
use futures::future::join_all;
use proto::{
    cart::cart_commands_client::CartCommandsClient,
    customer::{customer_commands_client::CustomerCommandsClient, *},
    payment::payment_commands_client::PaymentCommandsClient,
    product::product_commands_client::ProductCommandsClient,
};
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
    // Retried late: the stored result, nothing new decided.
    let late = client
        .deposit_balance(authed(deposit(&command_id, id, 700), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(late, first);
    let events = app.events(&format!("customer-{id}")).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].data["balance"]["amount_minor"], 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_reused_with_a_different_request_is_refused() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = registered(&app).await;
    let admin = app.admin();
    let command_id = cid();
    let mut client = app.customers();
    client
        .deposit_balance(authed(deposit(&command_id, id, 700), &admin))
        .await
        .unwrap();
    let other_admin = app.token("admin:eve", &["admin"]);
    let refused = [
        // Another body.
        client
            .deposit_balance(authed(deposit(&command_id, id, 999), &admin))
            .await,
        // The same body from another caller.
        client
            .deposit_balance(authed(deposit(&command_id, id, 700), &other_admin))
            .await,
        // Another method with the same fields.
        client
            .debit_balance(authed(
                DebitBalanceRequest {
                    command_id: command_id.clone(),
                    customer_id: id.to_string(),
                    payment_id: Uuid::new_v4().to_string(),
                    amount: eur(700),
                },
                &admin,
            ))
            .await
            .map(|r| r.map(|b| DepositBalanceResponse { result: b.result })),
    ];
    for outcome in refused {
        let status = assert_code(outcome, Code::InvalidArgument);
        assert!(
            status.message().contains("reused with a different request"),
            "{status:?}"
        );
    }
    assert_eq!(app.events(&format!("customer-{id}")).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_command_id_raced_with_two_requests_through_two_replicas_succeeds_once() {
    // Two replicas decide the two requests against the same state and derive the same event
    // ids: the loser's append finds them written. It must be told its request is not the one
    // that ran — never answered with the winner's result.
    let app = spawn_app(ServiceKind::Customer).await;
    let id = registered(&app).await;
    let admin = app.admin();
    let (_replicas, channels) = app.replicas(1).await;
    for round in 0..10 {
        let command_id = cid();
        let amounts = [100 + round, 200 + round];
        let outcomes = join_all(amounts.iter().zip(&channels).map(|(&amount, channel)| {
            let mut client = CustomerCommandsClient::new(channel.clone());
            let request = authed(deposit(&command_id, id, amount), &admin);
            async move { (amount, client.deposit_balance(request).await) }
        }))
        .await;
        let winners: Vec<i64> = outcomes
            .iter()
            .filter(|(_, outcome)| outcome.is_ok())
            .map(|(amount, _)| *amount)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        for (_, outcome) in outcomes {
            if let Err(status) = outcome {
                assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
                assert!(
                    status.message().contains("reused with a different request"),
                    "{status:?}"
                );
            }
        }
        let events = app.events(&format!("customer-{id}")).await;
        let last = events.last().unwrap();
        assert_eq!(last.metadata.command_id.unwrap().to_string(), command_id);
        assert_eq!(
            last.data["amount"]["amount_minor"], winners[0],
            "the event is the winner's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_many_times_at_once_appends_once() {
    let app = spawn_app(ServiceKind::Product).await;
    let catalog = product_with_stock(&app, 100).await;
    let service = app.service();
    let request = reserve(&catalog, Uuid::new_v4(), 7);
    let (_replicas, channels) = app.replicas(3).await;
    let responses = join_all((0..10).map(|i| {
        let mut client = ProductCommandsClient::new(channels[i % channels.len()].clone());
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
    let (_replicas, channels) = app.replicas(2).await;
    let responses = join_all((0..6).map(|i| {
        let mut client = CartCommandsClient::new(channels[i % channels.len()].clone());
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
    payment::with_order(&app, customer).await;
    let request = payment::initiate(payment_id, customer, 1_500);
    let (_replicas, channels) = app.replicas(3).await;
    let responses = join_all((0..10).map(|i| {
        let mut client = PaymentCommandsClient::new(channels[i % channels.len()].clone());
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
