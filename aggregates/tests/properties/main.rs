//! Property tests of the domain: random command sequences never break an aggregate's
//! invariants, folding the events equals evolving step by step, and every event survives the
//! event store's `(event_type, schema_version, data)` round trip, and arbitrary stored payloads
//! decode or fail with a typed error.

mod balance;
mod decoding;
mod lifecycle;
mod stock;

use aggregates::{Aggregate, DomainEvent};
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

/// A fixed instant plus `seconds`: commands carry their own time.
pub fn at(seconds: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(seconds.into())
}

/// A small, collision-friendly pool of UUIDs.
pub fn uuid(n: u8) -> Uuid {
    Uuid::from_u128(u128::from(n) + 1)
}

/// Runs `commands` through `decide` from an empty stream, applying accepted events one by one.
/// After each accepted command, `check` sees the new state and all events so far. Also checks,
/// for every event, the storage round trip, and at the end that `fold` equals the stepwise
/// state. Returns the final state and the events.
pub fn run<A: Aggregate>(
    commands: Vec<A::Command>,
    mut check: impl FnMut(&A::State, &[A::Event]),
) -> (A::State, Vec<A::Event>) {
    let mut state = A::State::default();
    let mut events = Vec::new();
    for command in commands {
        let Ok(new_events) = A::decide(&state, command) else {
            continue;
        };
        for event in new_events {
            assert_round_trips(&event);
            state = A::evolve(state, &event);
            events.push(event);
        }
        check(&state, &events);
    }
    assert_eq!(A::fold(&events), state, "fold differs from stepwise evolve");
    (state, events)
}

/// `event` decodes from what it encodes to, and its payload is a JSON object.
pub fn assert_round_trips<E: DomainEvent + PartialEq + std::fmt::Debug>(event: &E) {
    let data = event.to_data();
    assert!(
        data.is_object(),
        "{} payload is not an object",
        event.event_type()
    );
    let decoded = E::from_stored(event.event_type(), event.schema_version(), &data)
        .unwrap_or_else(|error| panic!("{} does not decode: {error}", event.event_type()));
    assert_eq!(&decoded, event);
}

#[test]
fn event_types_are_unique_across_aggregates_and_categories_are_distinct() {
    use aggregates::{
        Cart, Customer, Order, Payment, Product, cart::CartEvent, customer::CustomerEvent,
        order::OrderEvent, payment::PaymentEvent, product::ProductEvent,
    };
    let mut types: Vec<&str> = [
        CustomerEvent::SCHEMAS,
        ProductEvent::SCHEMAS,
        CartEvent::SCHEMAS,
        OrderEvent::SCHEMAS,
        PaymentEvent::SCHEMAS,
    ]
    .iter()
    .flat_map(|schemas| schemas.iter().map(|(name, _)| *name))
    .collect();
    let count = types.len();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types.len(), count, "an event type is used twice");
    assert_eq!(
        [
            Customer::CATEGORY,
            Product::CATEGORY,
            Cart::CATEGORY,
            Order::CATEGORY,
            Payment::CATEGORY,
        ],
        ["customer", "product", "cart", "order", "payment"]
    );
}
