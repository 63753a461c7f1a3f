//! Customer: registration, profile, a prepaid balance (deposits, debits for payments) and
//! deactivation.
//!
//! Rules: the balance never goes negative; deposits and debits are positive and in the
//! balance's currency (fixed at registration); a payment is debited at most once; every command
//! but `Register` needs a registered, active customer.

use crate::{aggregate::Aggregate, error::DomainError, ids::CustomerId, rules};

mod commands;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::CustomerCommand;
pub use events::{CustomerEvent, LEGACY_BALANCE_CURRENCY};
pub use state::{CustomerAccount, CustomerState};

/// The customer aggregate (stream `customer-<customer id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Customer;

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
        state::evolve(state, event)
    }
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
