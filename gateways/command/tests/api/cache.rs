//! The command handler's cache of folded streams never hides events written elsewhere.

use aggregates::{
    Aggregate, Currency, Customer, CustomerId, Money,
    customer::{CustomerCommand, CustomerState},
};
use chrono::Utc;
use command::{CommandContext, CommandHandler};
use event_store::testing::TestDatabase;
use uuid::Uuid;

fn context() -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        actor: "test".into(),
        traceparent: None,
        fingerprint: None,
    }
}

fn balance(state: &CustomerState) -> i64 {
    let CustomerState::Registered(account) = state else {
        panic!("not registered: {state:?}");
    };
    account.balance.amount_minor()
}

#[tokio::test]
async fn a_handler_with_a_cached_fold_sees_events_appended_by_another_process() {
    let db = TestDatabase::create(4).await;
    // Two handlers with caches of their own: two replicas of the customer service.
    let one = CommandHandler::<Customer>::new(db.store(), 1);
    let two = CommandHandler::<Customer>::new(db.store(), 1);
    let id = CustomerId::from(Uuid::new_v4());
    let eur = Currency::new("EUR").unwrap();
    let deposit = |amount| CustomerCommand::DepositBalance {
        amount: Money::new(amount, eur),
        at: Utc::now(),
    };

    let register = CustomerCommand::Register {
        customer_id: id,
        email: "ada@example.com".into(),
        name: "Ada".into(),
        currency: eur,
        at: Utc::now(),
    };
    one.execute(&context(), &id, register).await.unwrap();
    one.execute(&context(), &id, deposit(100)).await.unwrap(); // `one` has folded version 1
    let by_two = two.execute(&context(), &id, deposit(50)).await.unwrap();

    // With max_attempts = 1 a stale fold would fail with a conflict instead of catching up.
    let by_one = one.execute(&context(), &id, deposit(25)).await.unwrap();
    assert_eq!(by_one.version, by_two.version + 1);
    let loaded = one.load(&id).await.unwrap();
    assert_eq!(balance(&loaded.state), 175);
    let fresh = CommandHandler::<Customer>::new(db.store(), 1)
        .load(&id)
        .await
        .unwrap();
    assert_eq!(
        loaded.state, fresh.state,
        "cached fold equals a fold from scratch"
    );
    let events = db
        .store()
        .read_stream_to_end(&CommandHandler::<Customer>::stream_id(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(events.len(), 4);
    let folded = Customer::fold(
        &events
            .iter()
            .map(|e| {
                aggregates::DomainEvent::from_stored(&e.event_type, e.schema_version, &e.data)
                    .unwrap()
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(folded, loaded.state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_on_one_aggregate_in_one_process_queue_instead_of_aborting() {
    let db = TestDatabase::create(16).await;
    // One attempt only: without the in-process queue, racing deposits would abort.
    let handler = CommandHandler::<Customer>::new(db.store(), 1);
    let id = CustomerId::from(Uuid::new_v4());
    let eur = Currency::new("EUR").unwrap();
    let register = CustomerCommand::Register {
        customer_id: id,
        email: "ada@example.com".into(),
        name: "Ada".into(),
        currency: eur,
        at: Utc::now(),
    };
    handler.execute(&context(), &id, register).await.unwrap();
    let deposits: Vec<_> = (1..=20)
        .map(|amount| {
            let handler = handler.clone();
            tokio::spawn(async move {
                let deposit = CustomerCommand::DepositBalance {
                    amount: Money::new(amount, eur),
                    at: Utc::now(),
                };
                handler.execute(&context(), &id, deposit).await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for deposit in deposits {
        versions.push(deposit.await.unwrap().expect("queued, not aborted").version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<u64>>());
    let loaded = handler.load(&id).await.unwrap();
    assert_eq!(balance(&loaded.state), (1..=20).sum::<i64>());
}
