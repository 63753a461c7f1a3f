//! The customer's state and `evolve`, which copies facts from events and decides nothing.

use std::collections::BTreeSet;

use super::CustomerEvent;
use crate::{
    ids::{CustomerId, PaymentId},
    money::Money,
};

/// A customer's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub enum CustomerState {
    /// No events yet.
    #[default]
    Unregistered,
    /// Registered (possibly deactivated since).
    Registered(CustomerAccount),
}

/// A registered customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

/// Applies one event.
pub(super) fn evolve(state: CustomerState, event: &CustomerEvent) -> CustomerState {
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
