//! The same command id twice: one set of events, the same response (design note 4).

use command_service::ServiceKind;
use commerce_proto::customer::*;
use futures::future::join_all;
use tonic::Code;
use uuid::Uuid;

use crate::{
    helpers::*,
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
