//! Payment: one attempt to collect an order's total, from the customer's balance or from an
//! external provider.
//!
//! ```text
//!  Initiate             Capture                 Refund (until fully refunded)
//!  ───────▶ Initiated ──────────▶ Captured ──────────────────────────▶ Refunded
//!               │                    ▲  │ Refund (partial)
//!               │ Fail               └──┘
//!               ▼
//!            Failed
//! ```
//!
//! The amount is positive and captured whole; refunds are positive, in the payment's currency,
//! and their sum never exceeds the captured amount. A partially refunded payment stays
//! Captured; the refund that reaches the amount moves it to Refunded (final), as does Failed.

use crate::{aggregate::Aggregate, error::DomainError, ids::PaymentId, rules};

mod commands;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{PaymentCommand, PaymentMethod};
pub use events::PaymentEvent;
pub use state::{PaymentDetails, PaymentState, PaymentStatus};

/// The payment aggregate (stream `payment-<payment id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment;

impl Aggregate for Payment {
    const CATEGORY: &'static str = "payment";
    type Id = PaymentId;
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type State = PaymentState;
    type Error = DomainError;

    fn decide(
        state: &PaymentState,
        command: PaymentCommand,
    ) -> Result<Vec<PaymentEvent>, DomainError> {
        use PaymentStatus as S;
        let event = match command {
            PaymentCommand::Initiate {
                payment_id,
                order_id,
                customer_id,
                amount,
                method,
                at,
            } => {
                if let PaymentState::Existing(payment) = state {
                    return Err(DomainError::AlreadyExists {
                        entity: "payment",
                        id: payment.payment_id.to_string(),
                    });
                }
                PaymentEvent::PaymentInitiated {
                    payment_id,
                    order_id,
                    customer_id,
                    amount: rules::positive("amount", amount)?,
                    method,
                    at,
                }
            }
            PaymentCommand::Capture {
                provider_reference,
                at,
            } => {
                let payment = expect_status(state, "capture", S::Initiated)?;
                let provider_reference = provider_reference
                    .map(|reference| {
                        rules::text("provider_reference", &reference, rules::MAX_SHORT_TEXT)
                    })
                    .transpose()?;
                PaymentEvent::PaymentCaptured {
                    payment_id: payment.payment_id,
                    order_id: payment.order_id,
                    amount: payment.amount,
                    provider_reference,
                    at,
                }
            }
            PaymentCommand::Fail { reason, at } => {
                let payment = expect_status(state, "fail", S::Initiated)?;
                PaymentEvent::PaymentFailed {
                    payment_id: payment.payment_id,
                    order_id: payment.order_id,
                    reason: rules::text("reason", &reason, rules::MAX_LONG_TEXT)?,
                    at,
                }
            }
            PaymentCommand::Refund { amount, reason, at } => {
                let amount = rules::positive("amount", amount)?;
                let reason = rules::text("reason", &reason, rules::MAX_LONG_TEXT)?;
                let payment = expect_status(state, "refund", S::Captured)?;
                let refundable = payment.amount.checked_sub(&payment.refunded)?;
                refundable.ensure_same_currency(&amount)?;
                let remaining = refundable.checked_sub(&amount)?;
                if remaining.is_negative() {
                    return Err(DomainError::RefundExceedsCaptured {
                        refundable,
                        requested: amount,
                    });
                }
                PaymentEvent::PaymentRefunded {
                    payment_id: payment.payment_id,
                    order_id: payment.order_id,
                    customer_id: payment.customer_id,
                    method: payment.method,
                    amount,
                    total_refunded: payment.refunded.checked_add(&amount)?,
                    fully_refunded: remaining.amount_minor() == 0,
                    reason,
                    at,
                }
            }
        };
        Ok(vec![event])
    }

    fn evolve(state: PaymentState, event: &PaymentEvent) -> PaymentState {
        state::evolve(state, event)
    }
}

/// The payment, if it exists and is in status `allowed`.
fn expect_status<'a>(
    state: &'a PaymentState,
    action: &'static str,
    allowed: PaymentStatus,
) -> Result<&'a PaymentDetails, DomainError> {
    match state {
        PaymentState::NotInitiated => Err(DomainError::NotCreated { entity: "payment" }),
        PaymentState::Existing(payment) if payment.status == allowed => Ok(payment),
        PaymentState::Existing(payment) => Err(DomainError::IllegalTransition {
            entity: "payment",
            status: payment.status.as_str(),
            action,
        }),
    }
}
