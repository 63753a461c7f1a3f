//! The payment's state and `evolve`, which copies facts from events and decides nothing.

use super::{PaymentEvent, PaymentMethod};
use crate::{
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
};

/// Where a payment is in its life (see the module's diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub enum PaymentState {
    /// No events yet.
    #[default]
    NotInitiated,
    /// Initiated, in any status since.
    Existing(PaymentDetails),
}

/// An initiated payment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

/// Applies one event.
pub(super) fn evolve(state: PaymentState, event: &PaymentEvent) -> PaymentState {
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
