//! Given/when/then tests of the payment aggregate.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::{
    event::DomainEvent,
    ids::{CustomerId, OrderId},
    money::{Currency, Money},
    testing,
};

const PAYMENT: PaymentId = PaymentId(Uuid::from_u128(1));
const ORDER: OrderId = OrderId(Uuid::from_u128(2));
const PAYER: CustomerId = CustomerId(Uuid::from_u128(3));

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, second).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn given(events: impl IntoIterator<Item = PaymentEvent>) -> testing::Given<Payment> {
    testing::given(events)
}

fn initiate(amount: Money) -> PaymentCommand {
    PaymentCommand::Initiate {
        payment_id: PAYMENT,
        order_id: ORDER,
        customer_id: PAYER,
        amount,
        method: PaymentMethod::External,
        at: at(0),
    }
}

fn initiated() -> PaymentEvent {
    PaymentEvent::PaymentInitiated {
        payment_id: PAYMENT,
        order_id: ORDER,
        customer_id: PAYER,
        amount: eur(1000),
        method: PaymentMethod::External,
        at: at(0),
    }
}

fn captured() -> PaymentEvent {
    PaymentEvent::PaymentCaptured {
        payment_id: PAYMENT,
        order_id: ORDER,
        amount: eur(1000),
        provider_reference: Some("ch_123".into()),
        at: at(1),
    }
}

fn failed() -> PaymentEvent {
    PaymentEvent::PaymentFailed {
        payment_id: PAYMENT,
        order_id: ORDER,
        reason: "card declined".into(),
        at: at(1),
    }
}

fn refunded(amount: i64, total: i64) -> PaymentEvent {
    PaymentEvent::PaymentRefunded {
        payment_id: PAYMENT,
        order_id: ORDER,
        customer_id: PAYER,
        method: PaymentMethod::External,
        amount: eur(amount),
        total_refunded: eur(total),
        fully_refunded: total == 1000,
        reason: "returned".into(),
        at: at(2),
    }
}

fn capture() -> PaymentCommand {
    PaymentCommand::Capture {
        provider_reference: Some(" ch_123 ".into()),
        at: at(1),
    }
}

fn fail() -> PaymentCommand {
    PaymentCommand::Fail {
        reason: "card declined".into(),
        at: at(1),
    }
}

fn refund(amount: Money) -> PaymentCommand {
    PaymentCommand::Refund {
        amount,
        reason: "returned".into(),
        at: at(2),
    }
}

fn status(state: &PaymentState) -> Option<PaymentStatus> {
    match state {
        PaymentState::NotInitiated => None,
        PaymentState::Existing(payment) => Some(payment.status),
    }
}

fn illegal(status: &'static str, action: &'static str) -> DomainError {
    DomainError::IllegalTransition {
        entity: "payment",
        status,
        action,
    }
}

#[test]
fn initiate_starts_a_payment() {
    let state = given([]).when(initiate(eur(1000))).then([initiated()]);
    assert_eq!(status(&state), Some(PaymentStatus::Initiated));
}

#[test]
fn initiate_needs_a_positive_amount() {
    given([])
        .when(initiate(eur(0)))
        .then_error(DomainError::NonPositiveAmount {
            field: "amount",
            amount: eur(0),
        });
}

#[test]
fn initiate_twice_is_already_exists() {
    given([initiated()])
        .when(initiate(eur(1000)))
        .then_error(DomainError::AlreadyExists {
            entity: "payment",
            id: PAYMENT.to_string(),
        });
}

#[test]
fn commands_before_initiate_are_not_found() {
    for command in [capture(), fail(), refund(eur(1))] {
        given([])
            .when(command)
            .then_error(DomainError::NotCreated { entity: "payment" });
    }
}

#[test]
fn capture_collects_the_whole_amount() {
    let state = given([initiated()]).when(capture()).then([captured()]);
    assert_eq!(status(&state), Some(PaymentStatus::Captured));
}

#[test]
fn capture_rejects_a_blank_provider_reference() {
    given([initiated()])
        .when(PaymentCommand::Capture {
            provider_reference: Some(" ".into()),
            at: at(1),
        })
        .then_error(DomainError::Invalid {
            field: "provider_reference",
            reason: "must not be empty",
        });
}

#[test]
fn capture_only_from_initiated() {
    given([initiated(), captured()])
        .when(capture())
        .then_error(illegal("captured", "capture"));
    given([initiated(), failed()])
        .when(capture())
        .then_error(illegal("failed", "capture"));
}

#[test]
fn fail_ends_an_initiated_payment() {
    let state = given([initiated()]).when(fail()).then([failed()]);
    assert_eq!(status(&state), Some(PaymentStatus::Failed));
}

#[test]
fn fail_only_from_initiated_and_with_a_reason() {
    given([initiated(), captured()])
        .when(fail())
        .then_error(illegal("captured", "fail"));
    given([initiated()])
        .when(PaymentCommand::Fail {
            reason: "".into(),
            at: at(1),
        })
        .then_error(DomainError::Invalid {
            field: "reason",
            reason: "must not be empty",
        });
}

#[test]
fn partial_refunds_add_up_and_the_last_one_completes() {
    let state = given([initiated(), captured()])
        .when(refund(eur(300)))
        .then([refunded(300, 300)]);
    assert_eq!(status(&state), Some(PaymentStatus::Captured));
    let state = given([initiated(), captured(), refunded(300, 300)])
        .when(refund(eur(700)))
        .then([refunded(700, 1000)]);
    assert_eq!(status(&state), Some(PaymentStatus::Refunded));
}

#[test]
fn refunds_never_exceed_the_captured_amount() {
    given([initiated(), captured(), refunded(300, 300)])
        .when(refund(eur(701)))
        .then_error(DomainError::RefundExceedsCaptured {
            refundable: eur(700),
            requested: eur(701),
        });
    given([initiated(), captured(), refunded(1000, 1000)])
        .when(refund(eur(1)))
        .then_error(illegal("refunded", "refund"));
}

#[test]
fn refund_only_after_capture() {
    given([initiated()])
        .when(refund(eur(1)))
        .then_error(illegal("initiated", "refund"));
    given([initiated(), failed()])
        .when(refund(eur(1)))
        .then_error(illegal("failed", "refund"));
}

#[test]
fn refund_must_be_positive_and_in_the_payment_currency() {
    given([initiated(), captured()])
        .when(refund(eur(0)))
        .then_error(DomainError::NonPositiveAmount {
            field: "amount",
            amount: eur(0),
        });
    given([initiated(), captured()])
        .when(refund(Money::new(1, Currency::USD)))
        .then_error(DomainError::CurrencyMismatch {
            expected: Currency::EUR,
            actual: Currency::USD,
        });
}

#[test]
fn every_event_round_trips_through_storage() {
    for event in [initiated(), captured(), failed(), refunded(1, 1)] {
        let data = event.to_data();
        assert!(data.is_object());
        let decoded =
            PaymentEvent::from_stored(event.event_type(), event.schema_version(), &data).unwrap();
        assert_eq!(decoded, event);
    }
    assert_eq!(initiated().to_data()["method"], "external");
}
