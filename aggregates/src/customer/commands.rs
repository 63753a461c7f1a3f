//! What a caller can ask of a customer.

use chrono::{DateTime, Utc};

use crate::{
    ids::{CustomerId, PaymentId},
    money::{Currency, Money},
};

/// What a caller can ask of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerCommand {
    /// Opens the account with a zero balance in `currency`.
    Register {
        /// The new customer's id.
        customer_id: CustomerId,
        /// Contact email.
        email: String,
        /// Display name.
        name: String,
        /// Currency of the prepaid balance, fixed for the account's life.
        currency: Currency,
        /// When.
        at: DateTime<Utc>,
    },
    /// Replaces email and name. Sending the current values changes nothing (no event).
    UpdateProfile {
        /// New email.
        email: String,
        /// New name.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Adds money to the balance (a top-up, or a refund of a balance payment).
    DepositBalance {
        /// Positive, in the balance's currency.
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Takes money from the balance to pay `payment_id`; at most once per payment.
    DebitBalance {
        /// The payment this debit settles.
        payment_id: PaymentId,
        /// Positive, in the balance's currency, at most the balance.
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Closes the account: every later command is rejected.
    Deactivate {
        /// When.
        at: DateTime<Utc>,
    },
}
