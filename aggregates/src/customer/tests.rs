//! Given/when/then tests of the customer aggregate, and its event storage contract.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::{
    error::{DecodeError, ErrorKind},
    event::DomainEvent,
    ids::PaymentId,
    money::{Currency, Money},
    testing,
};

const ID: CustomerId = CustomerId(Uuid::from_u128(1));
const PAYMENT: PaymentId = PaymentId(Uuid::from_u128(77));

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, second).unwrap()
}

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

fn given(events: impl IntoIterator<Item = CustomerEvent>) -> testing::Given<Customer> {
    testing::given(events)
}

fn registered() -> CustomerEvent {
    CustomerEvent::CustomerRegistered {
        customer_id: ID,
        email: "ada@example.com".into(),
        name: "Ada".into(),
        currency: Currency::USD,
        at: at(0),
    }
}

fn deposited(amount: i64, balance: i64) -> CustomerEvent {
    CustomerEvent::BalanceDeposited {
        customer_id: ID,
        amount: usd(amount),
        balance: usd(balance),
        at: at(1),
    }
}

fn deactivated() -> CustomerEvent {
    CustomerEvent::CustomerDeactivated {
        customer_id: ID,
        at: at(9),
    }
}

fn register(email: &str, name: &str) -> CustomerCommand {
    CustomerCommand::Register {
        customer_id: ID,
        email: email.into(),
        name: name.into(),
        currency: Currency::USD,
        at: at(0),
    }
}

fn deposit(amount: Money) -> CustomerCommand {
    CustomerCommand::DepositBalance { amount, at: at(1) }
}

fn debit(amount: Money) -> CustomerCommand {
    CustomerCommand::DebitBalance {
        payment_id: PAYMENT,
        amount,
        at: at(2),
    }
}

#[test]
fn register_opens_an_account_with_a_zero_balance() {
    let state = given([])
        .when(register(" ada@example.com ", " Ada "))
        .then([registered()]);
    let CustomerState::Registered(account) = state else {
        panic!("not registered")
    };
    assert_eq!(account.balance, usd(0));
    assert!(account.active);
}

#[test]
fn register_twice_is_already_exists() {
    given([registered()])
        .when(register("ada@example.com", "Ada"))
        .then_error(DomainError::AlreadyExists {
            entity: "customer",
            id: ID.to_string(),
        });
}

#[test]
fn register_rejects_a_blank_name_and_a_malformed_email() {
    given([])
        .when(register("ada@example.com", "  "))
        .then_error(DomainError::Invalid {
            field: "name",
            reason: "must not be empty",
        });
    given([])
        .when(register("ada.example.com", "Ada"))
        .then_error(DomainError::Invalid {
            field: "email",
            reason: "is not an email address",
        });
}

#[test]
fn update_profile_records_both_current_values() {
    given([registered()])
        .when(CustomerCommand::UpdateProfile {
            email: "ada@lovelace.org".into(),
            name: "Ada".into(),
            at: at(3),
        })
        .then([CustomerEvent::CustomerProfileUpdated {
            customer_id: ID,
            email: "ada@lovelace.org".into(),
            name: "Ada".into(),
            at: at(3),
        }]);
}

#[test]
fn update_profile_with_the_current_values_changes_nothing() {
    given([registered()])
        .when(CustomerCommand::UpdateProfile {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            at: at(3),
        })
        .then([]);
}

#[test]
fn commands_on_an_unregistered_customer_are_not_found() {
    let error = given([]).when(deposit(usd(5))).result().unwrap_err();
    assert_eq!(error, DomainError::NotCreated { entity: "customer" });
    assert_eq!(error.kind(), ErrorKind::NotFound);
    given([])
        .when(CustomerCommand::Deactivate { at: at(1) })
        .then_error(DomainError::NotCreated { entity: "customer" });
}

#[test]
fn commands_on_a_deactivated_customer_are_failed_preconditions() {
    let inactive = DomainError::Inactive {
        entity: "customer",
        id: ID.to_string(),
        status: "deactivated",
    };
    assert_eq!(inactive.kind(), ErrorKind::FailedPrecondition);
    for command in [
        deposit(usd(5)),
        debit(usd(5)),
        CustomerCommand::Deactivate { at: at(10) },
        CustomerCommand::UpdateProfile {
            email: "x@y.z".into(),
            name: "X".into(),
            at: at(10),
        },
    ] {
        given([registered(), deactivated()])
            .when(command)
            .then_error(inactive.clone());
    }
}

#[test]
fn deposit_carries_the_new_balance() {
    given([registered(), deposited(500, 500)])
        .when(deposit(usd(250)))
        .then([deposited(250, 750)]);
}

#[test]
fn deposit_must_be_positive() {
    for amount in [0, -1] {
        given([registered()]).when(deposit(usd(amount))).then_error(
            DomainError::NonPositiveAmount {
                field: "amount",
                amount: usd(amount),
            },
        );
    }
}

#[test]
fn deposit_in_another_currency_is_rejected() {
    given([registered()])
        .when(deposit(Money::new(5, Currency::EUR)))
        .then_error(DomainError::CurrencyMismatch {
            expected: Currency::USD,
            actual: Currency::EUR,
        });
}

#[test]
fn deposit_that_overflows_is_rejected() {
    given([registered(), deposited(i64::MAX, i64::MAX)])
        .when(deposit(usd(1)))
        .then_error(DomainError::Overflow { what: "amount" });
}

#[test]
fn debit_carries_the_new_balance() {
    let state = given([registered(), deposited(500, 500)])
        .when(debit(usd(500)))
        .then([CustomerEvent::BalanceDebited {
            customer_id: ID,
            payment_id: PAYMENT,
            amount: usd(500),
            balance: usd(0),
            at: at(2),
        }]);
    let CustomerState::Registered(account) = state else {
        panic!("not registered")
    };
    assert!(account.debited_payments.contains(&PAYMENT));
}

#[test]
fn debit_beyond_the_balance_is_insufficient_balance() {
    given([registered(), deposited(500, 500)])
        .when(debit(usd(501)))
        .then_error(DomainError::InsufficientBalance {
            balance: usd(500),
            requested: usd(501),
        });
}

#[test]
fn debit_must_be_positive_and_in_the_balance_currency() {
    given([registered(), deposited(500, 500)])
        .when(debit(usd(0)))
        .then_error(DomainError::NonPositiveAmount {
            field: "amount",
            amount: usd(0),
        });
    given([registered(), deposited(500, 500)])
        .when(debit(Money::new(5, Currency::GBP)))
        .then_error(DomainError::CurrencyMismatch {
            expected: Currency::USD,
            actual: Currency::GBP,
        });
}

#[test]
fn a_payment_is_debited_at_most_once() {
    let debited = CustomerEvent::BalanceDebited {
        customer_id: ID,
        payment_id: PAYMENT,
        amount: usd(100),
        balance: usd(400),
        at: at(2),
    };
    given([registered(), deposited(500, 500), debited])
        .when(debit(usd(100)))
        .then_error(DomainError::AlreadyExists {
            entity: "debit for payment",
            id: PAYMENT.to_string(),
        });
}

#[test]
fn deactivate_closes_the_account() {
    let state = given([registered()])
        .when(CustomerCommand::Deactivate { at: at(9) })
        .then([deactivated()]);
    assert!(matches!(state, CustomerState::Registered(account) if !account.active));
}

#[test]
fn stream_id_is_category_dash_id() {
    assert_eq!(
        Customer::stream_id(&ID),
        "customer-00000000-0000-0000-0000-000000000001"
    );
}

#[test]
fn registered_v2_is_stored_with_its_currency() {
    let event = registered();
    assert_eq!(event.event_type(), "CustomerRegistered");
    assert_eq!(event.schema_version(), 2);
    assert_eq!(
        event.to_data(),
        json!({
            "customer_id": ID,
            "email": "ada@example.com",
            "name": "Ada",
            "currency": "USD",
            "at": "2025-01-02T03:04:00Z",
        })
    );
    let decoded = CustomerEvent::from_stored("CustomerRegistered", 2, &event.to_data()).unwrap();
    assert_eq!(decoded, event);
}

#[test]
fn registered_v1_without_a_currency_is_upcast_to_the_legacy_currency() {
    let v1 = json!({
        "customer_id": ID,
        "email": "ada@example.com",
        "name": "Ada",
        "at": "2025-01-02T03:04:00Z",
    });
    let decoded = CustomerEvent::from_stored("CustomerRegistered", 1, &v1).unwrap();
    assert_eq!(decoded, registered());
    assert_eq!(LEGACY_BALANCE_CURRENCY, Currency::USD);
}

#[test]
fn from_stored_rejects_unknown_types_versions_and_non_objects() {
    let data = deactivated().to_data();
    assert!(matches!(
        CustomerEvent::from_stored("CustomerVanished", 1, &data),
        Err(DecodeError::UnknownEventType { .. })
    ));
    assert!(matches!(
        CustomerEvent::from_stored("CustomerDeactivated", 2, &data),
        Err(DecodeError::UnsupportedSchemaVersion { current: 1, .. })
    ));
    assert!(matches!(
        CustomerEvent::from_stored("CustomerDeactivated", 0, &data),
        Err(DecodeError::UnsupportedSchemaVersion { .. })
    ));
    assert!(matches!(
        CustomerEvent::from_stored("CustomerDeactivated", 1, &json!([1])),
        Err(DecodeError::NotAnObject { .. })
    ));
    assert!(matches!(
        CustomerEvent::from_stored("CustomerDeactivated", 1, &json!({"customer_id": 5})),
        Err(DecodeError::InvalidPayload { .. })
    ));
}

#[test]
fn unknown_fields_are_ignored_on_read() {
    let mut data = deactivated().to_data();
    data["added_later"] = json!(true);
    assert_eq!(
        CustomerEvent::from_stored("CustomerDeactivated", 1, &data).unwrap(),
        deactivated()
    );
}
