//! What the checkout process manager is told: the inputs it records before it acts.

use chrono::{DateTime, Utc};

use super::{ProductStock, Step};
use crate::{
    ids::{CustomerId, OrderId},
    money::Money,
    payment::PaymentMethod,
};

/// One input of a checkout: an event seen on another stream, a step's answer, or the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutCommand {
    /// An order was placed by `Checkout` (its `OrderPlaced` carries a payment method).
    Start {
        /// The order, also the checkout's id.
        order_id: OrderId,
        /// The buyer.
        customer_id: CustomerId,
        /// The order total, to collect.
        total: Money,
        /// How the customer pays.
        method: PaymentMethod,
        /// The order's lines grouped by product: one reservation per product.
        products: Vec<ProductStock>,
        /// When the checkout is given up if not paid by then.
        deadline: DateTime<Utc>,
        /// When the order was placed.
        at: DateTime<Utc>,
    },
    /// The service (or the provider) answered a step the process manager sent. Transient
    /// failures are never replies: the step is sent again instead.
    Replied {
        /// The step.
        step: Step,
        /// What it answered.
        outcome: Outcome,
        /// When the answer came.
        at: DateTime<Utc>,
    },
    /// Something happened on another stream that the checkout must know.
    Notice {
        /// What happened.
        fact: Fact,
        /// When it happened.
        at: DateTime<Utc>,
    },
}

/// A step's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or had already been done by this very command id).
    Done,
    /// Refused by a business rule or as malformed: sending it again cannot help.
    Refused {
        /// What kind of refusal.
        kind: Refusal,
        /// The service's message, recorded for the timeline and the audit.
        message: String,
    },
}

/// The class of a refusal (the gRPC code of the answer, or the provider's 4xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `ALREADY_EXISTS`: what the step asked for is already there (a forward step counts as
    /// done).
    AlreadyExists,
    /// Any other refusal: `FAILED_PRECONDITION`, `NOT_FOUND`, `INVALID_ARGUMENT`,
    /// `PERMISSION_DENIED`, a provider's 4xx.
    Rejected,
}

/// A fact from another stream or from the clock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// The payment was captured (the provider confirmed an external charge).
    PaymentCaptured,
    /// The payment failed (the provider declined, or the payment was voided).
    PaymentFailed {
        /// Why.
        reason: String,
    },
    /// The payment was fully refunded (the provider confirmed an external refund).
    PaymentRefunded,
    /// The order was cancelled before payment (by its customer, or by this checkout).
    OrderCancelled {
        /// Why.
        reason: String,
    },
    /// The order was refunded after payment (its customer cancelled it before it shipped).
    OrderRefunded {
        /// Why.
        reason: String,
    },
    /// The checkout's deadline passed.
    DeadlinePassed,
}
