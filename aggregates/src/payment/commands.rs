//! What a caller can ask of a payment.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ids::{CustomerId, OrderId, PaymentId},
    money::Money,
};

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
