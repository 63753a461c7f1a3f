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

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    aggregate::Aggregate,
    error::DomainError,
    event::DomainEvent,
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
    rules,
};

#[cfg(test)]
mod tests;

/// The payment aggregate (stream `payment-<payment id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment;

/// Where the money comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// The customer's prepaid balance (the saga debits the customer, then captures).
    Balance,
    /// An external provider, which confirms through a signed callback.
    External,
}

/// A command to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCommand {
    /// Starts collecting `amount` for `order_id`.
    Initiate {
        /// The new payment's id.
        payment_id: PaymentId,
        /// The order paid for.
        order_id: OrderId,
        /// The payer.
        customer_id: CustomerId,
        /// Positive; the order total.
        amount: Money,
        /// Balance or external.
        method: PaymentMethod,
        /// When.
        at: DateTime<Utc>,
    },
    /// The money was collected (balance debited, or provider confirmed).
    Capture {
        /// The provider's id for the charge, if any (non-blank when given).
        provider_reference: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The money could not be collected.
    Fail {
        /// Why, non-empty (e.g. `insufficient balance`, `card declined`).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Gives back part or all of the captured money.
    Refund {
        /// Positive, in the payment's currency, at most what is left to refund.
        amount: Money,
        /// Why, non-empty.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentEvent {
    /// Collection started.
    PaymentInitiated {
        /// The payment.
        payment_id: PaymentId,
        /// The order paid for.
        order_id: OrderId,
        /// The payer.
        customer_id: CustomerId,
        /// Amount to collect.
        amount: Money,
        /// Balance or external.
        method: PaymentMethod,
        /// When.
        at: DateTime<Utc>,
    },
    /// The whole amount was collected.
    PaymentCaptured {
        /// The payment.
        payment_id: PaymentId,
        /// The order paid for.
        order_id: OrderId,
        /// Amount collected.
        amount: Money,
        /// The provider's id for the charge, if any.
        provider_reference: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Collection failed (final).
    PaymentFailed {
        /// The payment.
        payment_id: PaymentId,
        /// The order paid for.
        order_id: OrderId,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Money was given back. Carries the payer and method so a balance refund can be credited
    /// without reading the payment.
    PaymentRefunded {
        /// The payment.
        payment_id: PaymentId,
        /// The order paid for.
        order_id: OrderId,
        /// The payer, to credit for a balance payment.
        customer_id: CustomerId,
        /// Balance or external.
        method: PaymentMethod,
        /// Amount of this refund.
        amount: Money,
        /// Sum of all refunds so far, this one included.
        total_refunded: Money,
        /// Whether the captured amount is now fully refunded.
        fully_refunded: bool,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Where a payment is in its life (see the module's diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Waiting for capture or failure.
    Initiated,
    /// Collected; may be partially refunded.
    Captured,
    /// Not collected (final).
    Failed,
    /// Fully refunded (final).
    Refunded,
}

impl PaymentStatus {
    /// Lowercase name, as used in error messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::Captured => "captured",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
        }
    }
}

/// A payment's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PaymentState {
    /// No events yet.
    #[default]
    NotInitiated,
    /// Initiated, in any status since.
    Existing(PaymentDetails),
}

/// An initiated payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDetails {
    /// The payment.
    pub payment_id: PaymentId,
    /// The order paid for.
    pub order_id: OrderId,
    /// The payer.
    pub customer_id: CustomerId,
    /// Amount to collect (and, once captured, collected).
    pub amount: Money,
    /// Balance or external.
    pub method: PaymentMethod,
    /// Current status.
    pub status: PaymentStatus,
    /// Sum of refunds so far (zero in the payment's currency at first).
    pub refunded: Money,
    /// The provider's id for the charge, once captured.
    pub provider_reference: Option<String>,
}

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
        let mut payment = match (state, event) {
            (
                PaymentState::NotInitiated,
                PaymentEvent::PaymentInitiated {
                    payment_id,
                    order_id,
                    customer_id,
                    amount,
                    method,
                    ..
                },
            ) => {
                return PaymentState::Existing(PaymentDetails {
                    payment_id: *payment_id,
                    order_id: *order_id,
                    customer_id: *customer_id,
                    amount: *amount,
                    method: *method,
                    status: PaymentStatus::Initiated,
                    refunded: Money::zero(amount.currency()),
                    provider_reference: None,
                });
            }
            (PaymentState::Existing(payment), _) => payment,
            // `decide` never writes anything else to an empty stream.
            (state, _) => return state,
        };
        match event {
            PaymentEvent::PaymentInitiated { .. } => {}
            PaymentEvent::PaymentCaptured {
                provider_reference, ..
            } => {
                payment.status = PaymentStatus::Captured;
                payment.provider_reference.clone_from(provider_reference);
            }
            PaymentEvent::PaymentFailed { .. } => payment.status = PaymentStatus::Failed,
            PaymentEvent::PaymentRefunded {
                total_refunded,
                fully_refunded,
                ..
            } => {
                payment.refunded = *total_refunded;
                if *fully_refunded {
                    payment.status = PaymentStatus::Refunded;
                }
            }
        }
        PaymentState::Existing(payment)
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

impl DomainEvent for PaymentEvent {
    const SCHEMAS: &'static [(&'static str, i32)] = &[
        ("PaymentInitiated", 1),
        ("PaymentCaptured", 1),
        ("PaymentFailed", 1),
        ("PaymentRefunded", 1),
    ];

    fn event_type(&self) -> &'static str {
        match self {
            Self::PaymentInitiated { .. } => "PaymentInitiated",
            Self::PaymentCaptured { .. } => "PaymentCaptured",
            Self::PaymentFailed { .. } => "PaymentFailed",
            Self::PaymentRefunded { .. } => "PaymentRefunded",
        }
    }
}
