//! CustomerCommands: happy paths, invalid arguments, unknown ids, business rules, metadata.

use command::ServiceKind;
use proto::customer::*;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::*;

fn register(command_id: &str, customer_id: Uuid) -> RegisterRequest {
    RegisterRequest {
        command_id: command_id.to_owned(),
        customer_id: customer_id.to_string(),
        email: "ada@example.com".into(),
        name: "Ada".into(),
        currency: "EUR".into(),
    }
}

fn deposit(customer_id: Uuid, amount: i64) -> DepositBalanceRequest {
    DepositBalanceRequest {
        command_id: cid(),
        customer_id: customer_id.to_string(),
        amount: eur(amount),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_customer_command_appends_one_event_and_returns_the_new_version() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let me = app.customer(id);
    let mut client = app.customers();

    let registered = client
        .register(authed(register(&cid(), id), &me))
        .await
        .unwrap()
        .into_inner();
    let r = result_of(registered.result);
    assert_eq!(r.stream_id, format!("customer-{id}"));
    assert_eq!(r.version, 0);

    let updated = client
        .update_profile(authed(
            UpdateProfileRequest {
                command_id: cid(),
                customer_id: id.to_string(),
                email: "ada@lovelace.org".into(),
                name: "Ada Lovelace".into(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(updated.result).version, 1);

    let deposited = client
        .deposit_balance(authed(deposit(id, 5_000), &me))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(deposited.result).version, 2);

    let debited = client
        .debit_balance(authed(
            DebitBalanceRequest {
                command_id: cid(),
                customer_id: id.to_string(),
                payment_id: Uuid::new_v4().to_string(),
                amount: eur(1_999),
            },
            &app.service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result_of(debited.result).version, 3);

    let deactivated = client
        .deactivate(authed(
            DeactivateRequest {
                command_id: cid(),
                customer_id: id.to_string(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    let last = result_of(deactivated.result);
    assert_eq!(last.version, 4);

    let events = app.events(&format!("customer-{id}")).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "CustomerRegistered",
            "CustomerProfileUpdated",
            "BalanceDeposited",
            "BalanceDebited",
            "CustomerDeactivated"
        ]
    );
    assert_eq!(events[3].data["balance"]["amount_minor"], 3_001);
    assert_eq!(last.position, events[4].position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_changes_nothing_returns_the_current_version_and_writes_nothing() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let me = app.customer(id);
    let mut client = app.customers();
    let registered = client
        .register(authed(register(&cid(), id), &me))
        .await
        .unwrap()
        .into_inner();
    let same = client
        .update_profile(authed(
            UpdateProfileRequest {
                command_id: cid(),
                customer_id: id.to_string(),
                email: "ada@example.com".into(),
                name: "Ada".into(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.result, registered.result);
    assert_eq!(app.db.event_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_arguments_and_write_nothing() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let admin = app.admin();
    let mut client = app.customers();

    let mut missing_command_id = register("", id);
    missing_command_id.command_id.clear();
    let status = assert_code(
        client.register(authed(missing_command_id, &admin)).await,
        Code::InvalidArgument,
    );
    assert!(status.message().contains("command_id"), "{status:?}");

    let mut bad_id = register(&cid(), id);
    bad_id.customer_id = "42".into();
    assert_code(
        client.register(authed(bad_id, &admin)).await,
        Code::InvalidArgument,
    );

    let mut bad_currency = register(&cid(), id);
    bad_currency.currency = "euro".into();
    assert_code(
        client.register(authed(bad_currency, &admin)).await,
        Code::InvalidArgument,
    );

    let mut bad_email = register(&cid(), id);
    bad_email.email = "not an email".into();
    assert_code(
        client.register(authed(bad_email, &admin)).await,
        Code::InvalidArgument,
    );

    let mut bad_correlation = authed(register(&cid(), id), &admin);
    bad_correlation
        .metadata_mut()
        .insert("x-correlation-id", "nope".parse().unwrap());
    assert_code(
        client.register(bad_correlation).await,
        Code::InvalidArgument,
    );

    client
        .register(authed(register(&cid(), id), &admin))
        .await
        .unwrap();
    let mut no_amount = deposit(id, 1);
    no_amount.amount = None;
    assert_code(
        client.deposit_balance(authed(no_amount, &admin)).await,
        Code::InvalidArgument,
    );
    assert_code(
        client.deposit_balance(authed(deposit(id, 0), &admin)).await,
        Code::InvalidArgument,
    );
    assert_eq!(app.db.event_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_to_an_unknown_customer_are_not_found() {
    let app = spawn_app(ServiceKind::Customer).await;
    let mut client = app.customers();
    let status = assert_code(
        client
            .deposit_balance(authed(deposit(Uuid::new_v4(), 100), &app.admin()))
            .await,
        Code::NotFound,
    );
    assert!(status.message().contains("customer"), "{status:?}");
    assert_eq!(app.db.event_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_rules_are_failed_preconditions_or_already_exists() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let admin = app.admin();
    let mut client = app.customers();
    client
        .register(authed(register(&cid(), id), &admin))
        .await
        .unwrap();

    assert_code(
        client.register(authed(register(&cid(), id), &admin)).await,
        Code::AlreadyExists,
    );
    let overdraft = DebitBalanceRequest {
        command_id: cid(),
        customer_id: id.to_string(),
        payment_id: Uuid::new_v4().to_string(),
        amount: eur(1),
    };
    assert_code(
        client.debit_balance(authed(overdraft, &admin)).await,
        Code::FailedPrecondition,
    );
    let mut dollars = deposit(id, 100);
    dollars.amount.as_mut().unwrap().currency = "USD".into();
    assert_code(
        client.deposit_balance(authed(dollars, &admin)).await,
        Code::FailedPrecondition,
    );
    client
        .deactivate(authed(
            DeactivateRequest {
                command_id: cid(),
                customer_id: id.to_string(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let status = assert_code(
        client
            .deposit_balance(authed(deposit(id, 100), &admin))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("deactivated"), "{status:?}");
    assert_eq!(app.db.event_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_record_correlation_causation_actor_and_command_id() {
    let app = spawn_app(ServiceKind::Customer).await;
    let id = Uuid::new_v4();
    let command_id = Uuid::new_v4();
    let correlation_id = Uuid::new_v4();
    let mut request = authed(register(&command_id.to_string(), id), &app.customer(id));
    request.metadata_mut().insert(
        "x-correlation-id",
        correlation_id.to_string().parse().unwrap(),
    );
    app.customers().register(request).await.unwrap();

    let events = app.events(&format!("customer-{id}")).await;
    let metadata = &events[0].metadata;
    assert_eq!(metadata.command_id, Some(command_id));
    assert_eq!(metadata.causation_id, Some(command_id));
    assert_eq!(metadata.correlation_id, Some(correlation_id));
    assert_eq!(metadata.actor.as_deref(), Some(id.to_string().as_str()));
    assert_eq!(
        events[0].event_id,
        command::handler::event_id(command_id, 0)
    );
}
