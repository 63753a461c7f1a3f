//! What a checkout recorded, and how it is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Fact, ProductStock, Step};
use crate::{
    event::domain_event,
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
    payment::PaymentMethod,
};

/// What happened to a checkout: its start, every step's answer, the facts it noticed and the
/// turns it took. The commands it sends are derived from these (`pending`), never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutEvent {
    /// A checkout began for an order placed by `Checkout`.
    CheckoutStarted {
        /// The order, also the checkout's id.
        order_id: OrderId,
        /// The buyer.
        customer_id: CustomerId,
        /// The payment this checkout collects with (UUIDv5 of the order id).
        payment_id: PaymentId,
        /// How the customer pays.
        method: PaymentMethod,
        /// The amount to collect.
        total: Money,
        /// What to reserve, per product.
        products: Vec<ProductStock>,
        /// When the checkout is given up if not paid by then.
        deadline: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step was done.
    CheckoutStepSucceeded {
        /// The checkout.
        order_id: OrderId,
        /// The step.
        step: Step,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step was refused.
    CheckoutStepRefused {
        /// The checkout.
        order_id: OrderId,
        /// The step.
        step: Step,
        /// The service's message.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A fact from another stream or the clock was taken into account.
    CheckoutNoticed {
        /// The checkout.
        order_id: OrderId,
        /// The fact.
        fact: Fact,
        /// When.
        at: DateTime<Utc>,
    },
    /// The purchase cannot go through: everything done so far is undone.
    CheckoutCompensationStarted {
        /// The checkout.
        order_id: OrderId,
        /// The outcome's reason, e.g. `out of stock`, `insufficient balance`,
        /// `payment declined`, `deadline passed`.
        reason: String,
        /// Forward steps that may have been sent but whose answer is unknown: they are sent
        /// again first (same command ids) to learn whether they took effect, then undone.
        unsettled: Vec<Step>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The customer cancelled the paid order before it shipped: money and stock go back.
    CheckoutRefundStarted {
        /// The checkout.
        order_id: OrderId,
        /// The order's refund reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Paid: order paid, stock committed, cart cleared.
    CheckoutCompleted {
        /// The checkout.
        order_id: OrderId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Compensated: nothing is held, nothing is charged, the order is cancelled.
    CheckoutCancelled {
        /// The checkout.
        order_id: OrderId,
        /// Why (the reason compensation started with).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Refunded: the money is back with the customer and the stock on hand.
    CheckoutRefunded {
        /// The checkout.
        order_id: OrderId,
        /// When.
        at: DateTime<Utc>,
    },
}

impl CheckoutEvent {
    /// The checkout (order) every event belongs to.
    pub fn order_id(&self) -> OrderId {
        match self {
            Self::CheckoutStarted { order_id, .. }
            | Self::CheckoutStepSucceeded { order_id, .. }
            | Self::CheckoutStepRefused { order_id, .. }
            | Self::CheckoutNoticed { order_id, .. }
            | Self::CheckoutCompensationStarted { order_id, .. }
            | Self::CheckoutRefundStarted { order_id, .. }
            | Self::CheckoutCompleted { order_id, .. }
            | Self::CheckoutCancelled { order_id, .. }
            | Self::CheckoutRefunded { order_id, .. } => *order_id,
        }
    }
}

domain_event!(CheckoutEvent {
    CheckoutStarted = 1,
    CheckoutStepSucceeded = 1,
    CheckoutStepRefused = 1,
    CheckoutNoticed = 1,
    CheckoutCompensationStarted = 1,
    CheckoutRefundStarted = 1,
    CheckoutCompleted = 1,
    CheckoutCancelled = 1,
    CheckoutRefunded = 1,
});
