//! What happened to a customer, and how it is stored (with the upcaster of old payloads).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    error::DecodeError,
    event::domain_event,
    ids::{CustomerId, PaymentId},
    money::{Currency, Money},
};

/// The currency of every balance registered before `CustomerRegistered` carried one (schema
/// version 1): the shop then sold in US dollars only.
pub const LEGACY_BALANCE_CURRENCY: Currency = Currency::USD;

/// What happened to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerEvent {
    /// The account was opened with a zero balance. Schema v2 added `currency`; v1 payloads are
    /// upcast with [`LEGACY_BALANCE_CURRENCY`].
    CustomerRegistered {
        /// The customer.
        customer_id: CustomerId,
        /// Contact email.
        email: String,
        /// Display name.
        name: String,
        /// Currency of the balance.
        currency: Currency,
        /// When.
        at: DateTime<Utc>,
    },
    /// Email and/or name changed; carries both current values.
    CustomerProfileUpdated {
        /// The customer.
        customer_id: CustomerId,
        /// Email now.
        email: String,
        /// Name now.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Money was added to the balance.
    BalanceDeposited {
        /// The customer.
        customer_id: CustomerId,
        /// Amount added.
        amount: Money,
        /// Balance after the deposit.
        balance: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Money was taken from the balance to pay a payment.
    BalanceDebited {
        /// The customer.
        customer_id: CustomerId,
        /// The payment settled.
        payment_id: PaymentId,
        /// Amount taken.
        amount: Money,
        /// Balance after the debit (never negative).
        balance: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// The account was closed.
    CustomerDeactivated {
        /// The customer.
        customer_id: CustomerId,
        /// When.
        at: DateTime<Utc>,
    },
}

domain_event!(CustomerEvent {
    CustomerRegistered = 2,
    CustomerProfileUpdated = 1,
    BalanceDeposited = 1,
    BalanceDebited = 1,
    CustomerDeactivated = 1,
}

    fn upcast(event_type: &str, from_version: i32, data: Value) -> Result<Value, DecodeError> {
        match (event_type, from_version, data) {
            // v1 → v2: balances had no currency field; they were all in the legacy currency.
            ("CustomerRegistered", 1, Value::Object(mut fields)) => {
                fields
                    .entry("currency")
                    .or_insert_with(|| Value::String(LEGACY_BALANCE_CURRENCY.to_string()));
                Ok(Value::Object(fields))
            }
            (event_type, from_version, _) => Err(DecodeError::MissingUpcaster {
                event_type: event_type.to_owned(),
                from_version,
            }),
        }
    }
);
