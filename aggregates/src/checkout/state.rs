//! The checkout's state and `evolve`, which copies facts from events and decides nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{CheckoutEvent, Fact, ProductStock, Step};
use crate::{
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
    payment::PaymentMethod,
};

/// Where a checkout is (see the module's diagram).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// Going forward: reserving, collecting, marking paid, committing.
    Running,
    /// Undoing an unpaid checkout; `unsettled` forward steps are settled first.
    Compensating {
        /// Why (the outcome's reason).
        reason: String,
        /// Forward steps whose answer was unknown when compensation started.
        unsettled: Vec<Step>,
    },
    /// Giving money and stock back for a paid order its customer cancelled.
    Refunding {
        /// The order's refund reason.
        reason: String,
    },
    /// Paid (final, until the customer cancels before shipping).
    Completed,
    /// Compensated (final).
    Cancelled {
        /// Why.
        reason: String,
    },
    /// Refunded (final).
    Refunded,
}

impl Phase {
    /// The snake_case name the read model and the APIs use.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating { .. } => "compensating",
            Self::Refunding { .. } => "refunding",
            Self::Completed => "completed",
            Self::Cancelled { .. } => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// The reason of a checkout being undone (compensation or refund), for the steps that carry
    /// one (fail the payment, cancel the order, refund).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Compensating { reason, .. }
            | Self::Cancelled { reason }
            | Self::Refunding { reason } => Some(reason),
            Self::Running | Self::Completed | Self::Refunded => None,
        }
    }

    /// Whether nothing more happens (a completed checkout may still be refunded).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Cancelled { .. } | Self::Refunded)
    }
}

/// A checkout's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "one state per command being decided; boxing would only add an allocation"
)]
pub enum CheckoutState {
    /// No events yet.
    #[default]
    NotStarted,
    /// Started, in any phase since.
    Started(CheckoutDetails),
}

/// A started checkout: what it collects and every answer and fact it recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckoutDetails {
    /// The order, also the checkout's id.
    pub order_id: OrderId,
    /// The buyer.
    pub customer_id: CustomerId,
    /// The payment it collects with.
    pub payment_id: PaymentId,
    /// How the customer pays.
    pub method: PaymentMethod,
    /// The amount.
    pub total: Money,
    /// What to reserve, per product.
    pub products: Vec<ProductStock>,
    /// When it is given up if not paid.
    pub deadline: DateTime<Utc>,
    /// Where it is.
    pub phase: Phase,
    /// Steps done.
    pub succeeded: BTreeSet<Step>,
    /// Steps refused, with the service's message.
    #[serde(serialize_with = "by_step_name")]
    pub refused: BTreeMap<Step, String>,
    /// The provider's callback captured the payment.
    pub payment_captured: bool,
    /// The payment failed (declined, or voided by this checkout).
    pub payment_failed: bool,
    /// The payment was fully refunded.
    pub payment_refunded: bool,
    /// The order was cancelled.
    pub order_cancelled: bool,
    /// The deadline passed.
    pub deadline_passed: bool,
}

/// Applies one event.
/// `refused` as JSON, keyed by step name: the keys of a JSON object are strings, and a [`Step`]
/// serializes as an object.
fn by_step_name<S: serde::Serializer>(
    refused: &BTreeMap<Step, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(refused.iter().map(|(step, message)| (step.name(), message)))
}

pub(super) fn evolve(state: CheckoutState, event: &CheckoutEvent) -> CheckoutState {
    use CheckoutEvent::*;
    let mut checkout = match (state, event) {
        (
            CheckoutState::NotStarted,
            CheckoutStarted {
                order_id,
                customer_id,
                payment_id,
                method,
                total,
                products,
                deadline,
                ..
            },
        ) => {
            return CheckoutState::Started(CheckoutDetails {
                order_id: *order_id,
                customer_id: *customer_id,
                payment_id: *payment_id,
                method: *method,
                total: *total,
                products: products.clone(),
                deadline: *deadline,
                phase: Phase::Running,
                succeeded: BTreeSet::new(),
                refused: BTreeMap::new(),
                payment_captured: false,
                payment_failed: false,
                payment_refunded: false,
                order_cancelled: false,
                deadline_passed: false,
            });
        }
        (CheckoutState::Started(checkout), _) => checkout,
        // `decide` never writes anything else to an empty stream.
        (state, _) => return state,
    };
    match event {
        CheckoutStarted { .. } => {}
        CheckoutStepSucceeded { step, .. } => {
            checkout.succeeded.insert(*step);
            if *step == Step::FailPayment {
                checkout.payment_failed = true;
            }
            if *step == Step::CancelOrder {
                checkout.order_cancelled = true;
            }
        }
        CheckoutStepRefused { step, reason, .. } => {
            checkout.refused.insert(*step, reason.clone());
        }
        CheckoutNoticed { fact, .. } => match fact {
            Fact::PaymentCaptured => checkout.payment_captured = true,
            Fact::PaymentFailed { .. } => checkout.payment_failed = true,
            Fact::PaymentRefunded => checkout.payment_refunded = true,
            Fact::OrderCancelled { .. } => checkout.order_cancelled = true,
            Fact::OrderRefunded { .. } => {}
            Fact::DeadlinePassed => checkout.deadline_passed = true,
        },
        CheckoutCompensationStarted {
            reason, unsettled, ..
        } => {
            checkout.phase = Phase::Compensating {
                reason: reason.clone(),
                unsettled: unsettled.clone(),
            };
        }
        CheckoutRefundStarted { reason, .. } => {
            checkout.phase = Phase::Refunding {
                reason: reason.clone(),
            };
        }
        CheckoutCompleted { .. } => checkout.phase = Phase::Completed,
        CheckoutCancelled { reason, .. } => {
            checkout.phase = Phase::Cancelled {
                reason: reason.clone(),
            };
        }
        CheckoutRefunded { .. } => checkout.phase = Phase::Refunded,
    }
    CheckoutState::Started(checkout)
}
