//! What happened to a payment, and how it is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PaymentMethod;
use crate::{
    event::domain_event,
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
};

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

domain_event!(PaymentEvent {
    PaymentInitiated = 1,
    PaymentCaptured = 1,
    PaymentFailed = 1,
    PaymentRefunded = 1,
});
