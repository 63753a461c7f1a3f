//! Stored payloads are untrusted on read (an old writer, a hand-edited row, a bug elsewhere):
//! arbitrary JSON under any event type and schema version either decodes or gives a typed
//! [`aggregates::DecodeError`], never a panic; what decodes re-encodes to a payload that decodes
//! to the same event; and an upcast old payload equals the event in its current form.

use aggregates::{
    CustomerId, DomainEvent,
    cart::CartEvent,
    checkout::CheckoutEvent,
    customer::{CustomerEvent, LEGACY_BALANCE_CURRENCY},
    order::OrderEvent,
    payment::PaymentEvent,
    product::ProductEvent,
};
use chrono::{TimeZone, Utc};
use proptest::{collection, prelude::*};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every stored event type of every aggregate.
fn event_types() -> Vec<&'static str> {
    [
        CustomerEvent::SCHEMAS,
        ProductEvent::SCHEMAS,
        CartEvent::SCHEMAS,
        OrderEvent::SCHEMAS,
        PaymentEvent::SCHEMAS,
        CheckoutEvent::SCHEMAS,
    ]
    .iter()
    .flat_map(|schemas| schemas.iter().map(|(name, _)| *name))
    .collect()
}

fn event_type() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(event_types()).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn schema_version() -> impl Strategy<Value = i32> {
    prop_oneof![
        prop::sample::select(vec![i32::MIN, -1, 0, 1, 2, 3, i32::MAX]),
        any::<i32>(),
    ]
}

/// Field names the events use, so that generated objects often look like a payload.
const FIELDS: &[&str] = &[
    "customer_id",
    "product_id",
    "sku_id",
    "cart_id",
    "order_id",
    "payment_id",
    "checkout_id",
    "reservation_id",
    "email",
    "name",
    "currency",
    "amount",
    "amount_minor",
    "balance",
    "price",
    "quantity",
    "available",
    "reserved",
    "items",
    "lines",
    "total",
    "method",
    "reason",
    "at",
    "attributes",
    "deadline",
    "step",
    "payment_method",
    "refund",
];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Leaf values the events' fields hold, and values of the wrong kind or out of range.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![0_i64, -1, 1, i64::MIN, i64::MAX]).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        any::<u128>().prop_map(|n| Value::String(Uuid::from_u128(n).to_string())),
        prop::sample::select(vec![
            "",
            "USD",
            "EUR",
            "XXX",
            "not-a-uuid",
            "2025-01-02T03:04:00Z",
            "9999-99-99T99:99:99Z",
            "balance",
            "external",
            "Balance",
        ])
        .prop_map(|text| Value::String(text.to_owned())),
        any::<String>().prop_map(Value::String),
    ]
}

/// Arbitrary JSON, objects keyed mostly by event field names, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 8, |inner| {
        prop_oneof![
            collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            collection::btree_map(field_name(), inner, 0..10)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Decodes `data` as an `E`; if it decodes, the event's own encoding decodes to it again.
fn decodes_or_fails_typed<E>(
    event_type: &str,
    version: i32,
    data: &Value,
) -> Result<(), TestCaseError>
where
    E: DomainEvent + PartialEq + std::fmt::Debug,
{
    if let Ok(event) = E::from_stored(event_type, version, data) {
        let again = E::from_stored(event.event_type(), event.schema_version(), &event.to_data());
        prop_assert!(
            again.is_ok(),
            "{event:?} does not decode from its own encoding: {again:?}"
        );
        prop_assert_eq!(again.ok(), Some(event));
    }
    Ok(())
}

fn decodes_or_fails_typed_everywhere(
    event_type: &str,
    version: i32,
    data: &Value,
) -> Result<(), TestCaseError> {
    decodes_or_fails_typed::<CustomerEvent>(event_type, version, data)?;
    decodes_or_fails_typed::<ProductEvent>(event_type, version, data)?;
    decodes_or_fails_typed::<CartEvent>(event_type, version, data)?;
    decodes_or_fails_typed::<OrderEvent>(event_type, version, data)?;
    decodes_or_fails_typed::<PaymentEvent>(event_type, version, data)?;
    decodes_or_fails_typed::<CheckoutEvent>(event_type, version, data)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_json_under_any_type_and_version_decodes_or_fails_with_a_typed_error(
        event_type in event_type(),
        version in schema_version(),
        data in json_value(),
    ) {
        decodes_or_fails_typed_everywhere(&event_type, version, &data)?;
    }

    #[test]
    fn any_object_under_a_current_type_and_version_decodes_or_fails_with_a_typed_error(
        event_type in prop::sample::select(event_types()),
        data in collection::btree_map(field_name(), json_value(), 0..12),
    ) {
        let data = Value::Object(data.into_iter().collect());
        for version in [1, 2] {
            decodes_or_fails_typed_everywhere(event_type, version, &data)?;
        }
    }

    #[test]
    fn a_registered_v1_payload_upcasts_to_the_current_form_with_the_legacy_currency(
        id in any::<u128>(),
        email in any::<String>(),
        name in any::<String>(),
        seconds in 0_i64..4_102_444_800,
        extra in collection::btree_map("[a-z_]{1,12}", leaf(), 0..3),
    ) {
        let customer_id = CustomerId(Uuid::from_u128(id));
        let at = Utc.timestamp_opt(seconds, 0).unwrap();
        let mut v1 = json!({"customer_id": customer_id, "email": email, "name": name, "at": at});
        for (key, value) in extra {
            // Unknown fields are ignored on read; the v1 fields themselves stay as written.
            if !["customer_id", "email", "name", "at", "currency"].contains(&key.as_str()) {
                v1[key] = value;
            }
        }
        let current = CustomerEvent::CustomerRegistered {
            customer_id,
            email,
            name,
            currency: LEGACY_BALANCE_CURRENCY,
            at,
        };
        let upcast = CustomerEvent::from_stored("CustomerRegistered", 1, &v1).ok();
        prop_assert_eq!(upcast.as_ref(), Some(&current));
        prop_assert_eq!(current.schema_version(), 2);
        prop_assert_eq!(
            CustomerEvent::from_stored("CustomerRegistered", 2, &current.to_data()).ok(),
            Some(current)
        );
    }
}
