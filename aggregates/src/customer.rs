//! Customer: registration, profile, a prepaid balance (deposits, debits for payments) and
//! deactivation.
//!
//! Rules: the balance never goes negative; deposits and debits are positive and in the
//! balance's currency (fixed at registration); a payment is debited at most once; every command
//! but `Register` needs a registered, active customer.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    aggregate::Aggregate,
    error::{DecodeError, DomainError},
    event::DomainEvent,
    ids::{CustomerId, PaymentId},
    money::{Currency, Money},
    rules,
};

#[cfg(test)]
mod tests;

/// The customer aggregate (stream `customer-<customer id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Customer;

/// The currency of every balance registered before `CustomerRegistered` carried one (schema
/// version 1): the shop then sold in US dollars only.
pub const LEGACY_BALANCE_CURRENCY: Currency = Currency::USD;

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

/// A customer's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CustomerState {
    /// No events yet.
    #[default]
    Unregistered,
    /// Registered (possibly deactivated since).
    Registered(CustomerAccount),
}

/// A registered customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAccount {
    /// The customer.
    pub customer_id: CustomerId,
    /// Contact email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Prepaid balance, never negative.
    pub balance: Money,
    /// False once deactivated.
    pub active: bool,
    /// Payments already debited, so a payment is never debited twice.
    pub debited_payments: BTreeSet<PaymentId>,
}

impl Aggregate for Customer {
    const CATEGORY: &'static str = "customer";
    type Id = CustomerId;
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type State = CustomerState;
    type Error = DomainError;

    fn decide(
        state: &CustomerState,
        command: CustomerCommand,
    ) -> Result<Vec<CustomerEvent>, DomainError> {
        use CustomerCommand::*;
        match command {
            Register {
                customer_id,
                email,
                name,
                currency,
                at,
            } => {
                if let CustomerState::Registered(account) = state {
                    return Err(DomainError::AlreadyExists {
                        entity: "customer",
                        id: account.customer_id.to_string(),
                    });
                }
                Ok(vec![CustomerEvent::CustomerRegistered {
                    customer_id,
                    email: rules::email(&email)?,
                    name: rules::text("name", &name, rules::MAX_SHORT_TEXT)?,
                    currency,
                    at,
                }])
            }
            UpdateProfile { email, name, at } => {
                let account = active(state)?;
                let email = rules::email(&email)?;
                let name = rules::text("name", &name, rules::MAX_SHORT_TEXT)?;
                if email == account.email && name == account.name {
                    return Ok(vec![]);
                }
                Ok(vec![CustomerEvent::CustomerProfileUpdated {
                    customer_id: account.customer_id,
                    email,
                    name,
                    at,
                }])
            }
            DepositBalance { amount, at } => {
                let account = active(state)?;
                let amount = rules::positive("amount", amount)?;
                let balance = account.balance.checked_add(&amount)?;
                Ok(vec![CustomerEvent::BalanceDeposited {
                    customer_id: account.customer_id,
                    amount,
                    balance,
                    at,
                }])
            }
            DebitBalance {
                payment_id,
                amount,
                at,
            } => {
                let account = active(state)?;
                let amount = rules::positive("amount", amount)?;
                if account.debited_payments.contains(&payment_id) {
                    return Err(DomainError::AlreadyExists {
                        entity: "debit for payment",
                        id: payment_id.to_string(),
                    });
                }
                let balance = account.balance.checked_sub(&amount)?;
                if balance.is_negative() {
                    return Err(DomainError::InsufficientBalance {
                        balance: account.balance,
                        requested: amount,
                    });
                }
                Ok(vec![CustomerEvent::BalanceDebited {
                    customer_id: account.customer_id,
                    payment_id,
                    amount,
                    balance,
                    at,
                }])
            }
            Deactivate { at } => {
                let account = active(state)?;
                Ok(vec![CustomerEvent::CustomerDeactivated {
                    customer_id: account.customer_id,
                    at,
                }])
            }
        }
    }

    fn evolve(state: CustomerState, event: &CustomerEvent) -> CustomerState {
        match (state, event) {
            (
                CustomerState::Unregistered,
                CustomerEvent::CustomerRegistered {
                    customer_id,
                    email,
                    name,
                    currency,
                    ..
                },
            ) => CustomerState::Registered(CustomerAccount {
                customer_id: *customer_id,
                email: email.clone(),
                name: name.clone(),
                balance: Money::zero(*currency),
                active: true,
                debited_payments: BTreeSet::new(),
            }),
            (CustomerState::Registered(account), event) => {
                CustomerState::Registered(apply(account, event))
            }
            // `decide` never writes anything else to an empty stream.
            (state, _) => state,
        }
    }
}

/// Applies an event to a registered account.
fn apply(mut account: CustomerAccount, event: &CustomerEvent) -> CustomerAccount {
    use CustomerEvent::*;
    match event {
        CustomerRegistered { .. } => {}
        CustomerProfileUpdated { email, name, .. } => {
            account.email.clone_from(email);
            account.name.clone_from(name);
        }
        BalanceDeposited { balance, .. } => account.balance = *balance,
        BalanceDebited {
            payment_id,
            balance,
            ..
        } => {
            account.balance = *balance;
            account.debited_payments.insert(*payment_id);
        }
        CustomerDeactivated { .. } => account.active = false,
    }
    account
}

/// The account if the customer is registered and active.
fn active(state: &CustomerState) -> Result<&CustomerAccount, DomainError> {
    match state {
        CustomerState::Unregistered => Err(DomainError::NotCreated { entity: "customer" }),
        CustomerState::Registered(account) if !account.active => Err(DomainError::Inactive {
            entity: "customer",
            id: account.customer_id.to_string(),
            status: "deactivated",
        }),
        CustomerState::Registered(account) => Ok(account),
    }
}

impl DomainEvent for CustomerEvent {
    const SCHEMAS: &'static [(&'static str, i32)] = &[
        ("CustomerRegistered", 2),
        ("CustomerProfileUpdated", 1),
        ("BalanceDeposited", 1),
        ("BalanceDebited", 1),
        ("CustomerDeactivated", 1),
    ];

    fn event_type(&self) -> &'static str {
        match self {
            Self::CustomerRegistered { .. } => "CustomerRegistered",
            Self::CustomerProfileUpdated { .. } => "CustomerProfileUpdated",
            Self::BalanceDeposited { .. } => "BalanceDeposited",
            Self::BalanceDebited { .. } => "BalanceDebited",
            Self::CustomerDeactivated { .. } => "CustomerDeactivated",
        }
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
}
