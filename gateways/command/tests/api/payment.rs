//! PaymentCommands: capture and refunds, failure, invalid arguments, unknown payments, rules.

use command::ServiceKind;
use proto::payment::*;
use tonic::Code;
use uuid::Uuid;

use crate::{helpers::*, order::seed_order};

/// The order [`initiate`] pays for: one per customer, placed by [`with_order`].
pub fn order_of(customer: Uuid) -> Uuid {
    Uuid::new_v5(&customer, b"order")
}

/// Places `customer`'s order [`order_of`] in the log, so payments for it can be initiated.
pub async fn with_order(app: &TestApp, customer: Uuid) {
    seed_order(app, order_of(customer), customer).await;
}

pub fn initiate(payment: Uuid, customer: Uuid, amount: i64) -> InitiateRequest {
    InitiateRequest {
        command_id: cid(),
        payment_id: payment.to_string(),
        order_id: order_of(customer).to_string(),
        customer_id: customer.to_string(),
        amount: eur(amount),
        method: PaymentMethod::Balance.into(),
    }
}

pub fn capture(payment: Uuid) -> CaptureRequest {
    CaptureRequest {
        command_id: cid(),
        payment_id: payment.to_string(),
        provider_reference: None,
    }
}

fn fail(payment: Uuid) -> FailRequest {
    FailRequest {
        command_id: cid(),
        payment_id: payment.to_string(),
        reason: "card declined".into(),
    }
}

fn refund(payment: Uuid, amount: i64) -> RefundRequest {
    RefundRequest {
        command_id: cid(),
        payment_id: payment.to_string(),
        amount: eur(amount),
        reason: "returned".into(),
    }
}

fn payment_stream(payment: Uuid) -> String {
    format!("payment-{payment}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_captured_then_refunded_in_parts() {
    let app = spawn_app(ServiceKind::Payment).await;
    let (payment, customer) = (Uuid::new_v4(), Uuid::new_v4());
    with_order(&app, customer).await;
    let service = app.service();
    let mut payments = app.payments();

    let initiated = payments
        .initiate(authed(
            initiate(payment, customer, 3_000),
            &app.customer(customer),
        ))
        .await
        .unwrap()
        .into_inner();
    let initiated = result_of(initiated.result);
    assert_eq!(
        (initiated.stream_id.as_str(), initiated.version),
        (&*payment_stream(payment), 0)
    );
    let captured = payments
        .capture(authed(
            CaptureRequest {
                provider_reference: Some("ch_123".into()),
                ..capture(payment)
            },
            &service,
        ))
        .await
        .unwrap();
    assert_eq!(result_of(captured.into_inner().result).version, 1);
    let partial = payments
        .refund(authed(refund(payment, 1_000), &service))
        .await
        .unwrap();
    assert_eq!(result_of(partial.into_inner().result).version, 2);
    // More than what is left to refund.
    let status = assert_code(
        payments
            .refund(authed(refund(payment, 2_001), &service))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("exceeds"), "{status:?}");
    let rest = payments
        .refund(authed(refund(payment, 2_000), &app.admin()))
        .await
        .unwrap();
    assert_eq!(result_of(rest.into_inner().result).version, 3);
    // Fully refunded is final.
    assert_code(
        payments.refund(authed(refund(payment, 1), &service)).await,
        Code::FailedPrecondition,
    );

    let events = app.events(&payment_stream(payment)).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "PaymentInitiated",
            "PaymentCaptured",
            "PaymentRefunded",
            "PaymentRefunded"
        ]
    );
    assert_eq!(events[0].data["method"], "balance");
    assert_eq!(events[1].data["provider_reference"], "ch_123");
    assert_eq!(events[3].data["fully_refunded"], true);
    assert_eq!(events[3].data["customer_id"], customer.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_payment_can_be_neither_captured_nor_refunded() {
    let app = spawn_app(ServiceKind::Payment).await;
    let (payment, customer) = (Uuid::new_v4(), Uuid::new_v4());
    with_order(&app, customer).await;
    let service = app.service();
    let mut payments = app.payments();
    payments
        .initiate(authed(
            InitiateRequest {
                method: PaymentMethod::External.into(),
                ..initiate(payment, customer, 500)
            },
            &service,
        ))
        .await
        .unwrap();
    let failed = payments
        .fail(authed(fail(payment), &service))
        .await
        .unwrap();
    assert_eq!(result_of(failed.into_inner().result).version, 1);
    let status = assert_code(
        payments.capture(authed(capture(payment), &service)).await,
        Code::FailedPrecondition,
    );
    assert!(
        status
            .message()
            .contains("cannot capture payment in status failed"),
        "{status:?}"
    );
    assert_code(
        payments
            .refund(authed(refund(payment, 100), &service))
            .await,
        Code::FailedPrecondition,
    );
    // The payment id is taken.
    assert_code(
        payments
            .initiate(authed(initiate(payment, customer, 500), &service))
            .await,
        Code::AlreadyExists,
    );
    let events = app.events(&payment_stream(payment)).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].data["method"], "external");
    assert_eq!(events[1].data["reason"], "card declined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payment_requests_are_invalid_and_unknown_payments_not_found() {
    let app = spawn_app(ServiceKind::Payment).await;
    let (payment, customer) = (Uuid::new_v4(), Uuid::new_v4());
    with_order(&app, customer).await;
    let service = app.service();
    let mut payments = app.payments();
    let invalid = [
        InitiateRequest {
            method: PaymentMethod::Unspecified.into(),
            ..initiate(payment, customer, 100)
        },
        InitiateRequest {
            method: 7,
            ..initiate(payment, customer, 100)
        },
        InitiateRequest {
            amount: None,
            ..initiate(payment, customer, 100)
        },
        initiate(payment, customer, 0),
        initiate(payment, customer, -5),
        InitiateRequest {
            order_id: "order-1".into(),
            ..initiate(payment, customer, 100)
        },
        InitiateRequest {
            payment_id: String::new(),
            ..initiate(payment, customer, 100)
        },
    ];
    for request in invalid {
        let status = assert_code(
            payments.initiate(authed(request.clone(), &service)).await,
            Code::InvalidArgument,
        );
        assert!(!status.message().is_empty(), "{request:?}");
    }
    let status = assert_code(
        payments.capture(authed(capture(payment), &service)).await,
        Code::NotFound,
    );
    assert!(
        status.message().contains("payment does not exist"),
        "{status:?}"
    );
    assert_code(
        payments.fail(authed(fail(payment), &service)).await,
        Code::NotFound,
    );
    assert_code(
        payments.refund(authed(refund(payment, 1), &service)).await,
        Code::NotFound,
    );
    payments
        .initiate(authed(initiate(payment, customer, 100), &service))
        .await
        .unwrap();
    assert_code(
        payments
            .fail(authed(
                FailRequest {
                    reason: String::new(),
                    ..fail(payment)
                },
                &service,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        payments
            .capture(authed(
                CaptureRequest {
                    provider_reference: Some(" ".into()),
                    ..capture(payment)
                },
                &service,
            ))
            .await,
        Code::InvalidArgument,
    );
    // The seeded order and the one payment initiated.
    assert_eq!(app.db.event_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cannot_pay_for_another_customers_order() {
    let app = spawn_app(ServiceKind::Payment).await;
    let (owner, other) = (Uuid::new_v4(), Uuid::new_v4());
    with_order(&app, owner).await;
    let mut payments = app.payments();
    // The other customer names themselves as the payer, of the owner's order.
    let request = InitiateRequest {
        order_id: order_of(owner).to_string(),
        ..initiate(Uuid::new_v4(), other, 5_000)
    };
    for token in [app.customer(other), app.service()] {
        let status = assert_code(
            payments.initiate(authed(request.clone(), &token)).await,
            Code::PermissionDenied,
        );
        assert!(status.message().contains("another customer"), "{status:?}");
    }
    // An order nobody placed yet cannot be paid for either: anyone could still place it.
    let unplaced = initiate(Uuid::new_v4(), other, 5_000);
    let status = assert_code(
        payments
            .initiate(authed(unplaced, &app.customer(other)))
            .await,
        Code::NotFound,
    );
    assert!(status.message().contains("order"), "{status:?}");
    assert_eq!(app.db.event_count().await, 1, "only the seeded order");
}
