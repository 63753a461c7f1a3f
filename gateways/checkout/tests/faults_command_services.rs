//! The fault suite (`docs/faults.md`), command services: each of the five gRPC command services
//! SIGKILLed under load and started again. Clients see `UNAVAILABLE` meanwhile and nothing else;
//! afterwards every acknowledged command has its events in the log, every purchase settles and
//! every read model equals a rebuild.
#![recursion_limit = "512"]

mod fault_support;

use fault_support::{Fault, FaultSuite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_customer_service_killed_under_load_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Kill("customer")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_product_service_killed_under_load_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Kill("product")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cart_service_killed_under_load_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Kill("cart")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_order_service_killed_under_load_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Kill("order")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_payment_service_killed_under_load_loses_no_acknowledged_write() {
    FaultSuite::survive_alone(Fault::Kill("payment")).await;
}

/// The "lost" check itself, on a log whose contents are known. It failed before on a command
/// that changed nothing: CI saw a `CartCommands.Clear` of an already empty cart answered (as
/// invariant 4 of the command handler says) with the cart's version and its last event's
/// position, and the check, looking for the Clear's own event there, called it lost.
#[tokio::test]
async fn the_lost_write_check_accepts_what_the_log_bears_out_and_nothing_else() {
    use event_store::{EventMetadata, ExpectedVersion, NewEvent, StreamId, testing::TestDatabase};
    use fault_support::{checks::lost_writes, load::Acknowledged};
    use uuid::Uuid;

    let db = TestDatabase::create(2).await;
    let cart = StreamId::parse(format!("cart-{}", Uuid::new_v4())).expect("a stream id");
    let by = |command: Uuid| {
        NewEvent::new("CartCleared", serde_json::json!({})).with_metadata(EventMetadata {
            command_id: Some(command),
            ..EventMetadata::default()
        })
    };
    let (wrote, noop, elsewhere, never) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let first = db
        .store()
        .append(&cart, ExpectedVersion::NoStream, &[by(wrote)])
        .await
        .expect("append");
    let second = db
        .store()
        .append(&cart, ExpectedVersion::Exact(0), &[by(elsewhere)])
        .await
        .expect("append");
    let ack = |command_id, version, position| Acknowledged {
        command: "CartCommands.Clear",
        command_id,
        stream_id: cart.to_string(),
        version,
        position,
    };
    let borne_out = [
        // Its own event, where the reply said.
        ack(wrote, 0, first.last_position()),
        // Changed nothing: the stream's last event then, and no event of its own anywhere.
        ack(noop, 0, first.last_position()),
        ack(noop, 1, second.last_position()),
    ];
    assert_eq!(
        lost_writes(&db.pool, &borne_out).await,
        Vec::<String>::new()
    );
    let not_borne_out = [
        // Nothing at that position.
        ack(never, 7, second.last_position() + 1_000),
        // Another version than the event there.
        ack(never, 1, first.last_position()),
        // Its own event is in the log, but not where the reply said.
        ack(elsewhere, 0, first.last_position()),
    ];
    assert_eq!(lost_writes(&db.pool, &not_borne_out).await.len(), 3);
}
