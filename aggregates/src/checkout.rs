//! Checkout: the process manager of a purchase, itself an event-sourced aggregate
//! (`docs/checkout.md`). One stream per order, `checkout-<order id>`.
//!
//! `decide` records what the checkout learned — its start, each step's answer, facts from other
//! streams, the deadline — and the turns that follow from it. What to send next is not stored:
//! [`pending`] derives it from the state, so a process manager that crashed re-derives the same
//! steps and re-sends them with the same command ids ([`Step::command_id`]).
//!
//! ```text
//!  Start ─▶ Running ──every step done──────────────────────────────▶ Completed
//!             │  a forward step refused (out of stock, insufficient      │ OrderRefunded
//!             │  balance, …), payment failed, order cancelled, deadline  ▼
//!             ▼                                                      Refunding
//!        Compensating(reason) ──everything undone──▶ Cancelled(reason)   │ money and stock back
//!                                                                        ▼
//!                                                                    Refunded
//! ```
//!
//! Rules:
//! - Answers are recorded once per step; a second answer to the same step changes nothing.
//! - A forward step refused with `ALREADY_EXISTS` counts as done. Any other refusal of a forward
//!   step before the order is paid starts compensation; after it, it is only recorded.
//!   Refusals of compensation steps are recorded and count as answered: they never block.
//! - Compensation first re-sends the forward steps that were in flight (their answer unknown),
//!   so nothing taken is left behind, then undoes: releases held stock, credits a debited
//!   balance, voids or refunds the payment, and cancels the order last.
//! - A deadline after the payment was captured changes nothing; so does any fact already known.

use chrono::{DateTime, Utc};

use crate::{aggregate::Aggregate, error::DomainError, ids::OrderId, rules};

mod commands;
mod events;
mod state;
mod steps;
#[cfg(test)]
mod tests;

pub use commands::{CheckoutCommand, Fact, Outcome, Refusal};
pub use events::CheckoutEvent;
pub use state::{CheckoutDetails, CheckoutState, Phase};
pub use steps::{
    NAMESPACE, ProductStock, Step, deadline_command_id, notice_command_id, payment_id, pending,
    reply_command_id,
};

/// The checkout process manager (stream `checkout-<order id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkout;

/// The outcome reason of a checkout whose stock could not be reserved.
pub const OUT_OF_STOCK: &str = "out of stock";
/// The outcome reason of a balance checkout whose debit was refused.
pub const INSUFFICIENT_BALANCE: &str = "insufficient balance";
/// The outcome reason of a checkout not paid by its deadline.
pub const DEADLINE_PASSED: &str = "deadline passed";

impl Aggregate for Checkout {
    const CATEGORY: &'static str = "checkout";
    type Id = OrderId;
    type Command = CheckoutCommand;
    type Event = CheckoutEvent;
    type State = CheckoutState;
    type Error = DomainError;

    fn decide(
        state: &CheckoutState,
        command: CheckoutCommand,
    ) -> Result<Vec<CheckoutEvent>, DomainError> {
        let checkout = match (state, command) {
            (
                CheckoutState::NotStarted,
                CheckoutCommand::Start {
                    order_id,
                    customer_id,
                    total,
                    method,
                    products,
                    deadline,
                    at,
                },
            ) => {
                if products.is_empty() || products.iter().any(|p| p.items.is_empty()) {
                    return Err(DomainError::Invalid {
                        field: "products",
                        reason: "must not be empty",
                    });
                }
                return Ok(vec![CheckoutEvent::CheckoutStarted {
                    order_id,
                    customer_id,
                    payment_id: payment_id(order_id),
                    method,
                    total: rules::positive("total", total)?,
                    products,
                    deadline,
                    at,
                }]);
            }
            (CheckoutState::NotStarted, _) => {
                return Err(DomainError::NotCreated { entity: "checkout" });
            }
            (CheckoutState::Started(checkout), command) => (checkout, command),
        };
        let (checkout, command) = checkout;
        if checkout.phase.is_final() {
            return Ok(Vec::new());
        }
        let (events, at) = match command {
            CheckoutCommand::Start { .. } => return Ok(Vec::new()),
            CheckoutCommand::Replied { step, outcome, at } => {
                (replied(checkout, step, outcome, at), at)
            }
            CheckoutCommand::Notice { fact, at } => (notice(checkout, fact, at), at),
        };
        Ok(close(checkout, events, at))
    }

    fn evolve(state: CheckoutState, event: &CheckoutEvent) -> CheckoutState {
        state::evolve(state, event)
    }
}

/// The events recording `step`'s answer, and the compensation it starts, if any.
fn replied(
    checkout: &CheckoutDetails,
    step: Step,
    outcome: Outcome,
    at: DateTime<Utc>,
) -> Vec<CheckoutEvent> {
    let order_id = checkout.order_id;
    if checkout.answered(&step) {
        return Vec::new();
    }
    let message = match outcome {
        Outcome::Done => None,
        Outcome::Refused {
            kind: Refusal::AlreadyExists,
            ..
        } if !step.is_compensation() => None,
        Outcome::Refused { message, .. } => Some(message),
    };
    let Some(message) = message else {
        return vec![CheckoutEvent::CheckoutStepSucceeded { order_id, step, at }];
    };
    let mut events = vec![CheckoutEvent::CheckoutStepRefused {
        order_id,
        step,
        reason: message.clone(),
        at,
    }];
    let unpaid = !checkout.succeeded(&Step::MarkPaid);
    if checkout.phase == Phase::Running && !step.is_compensation() && unpaid {
        let reason = match step {
            Step::Reserve { .. } => OUT_OF_STOCK.to_owned(),
            Step::DebitBalance => INSUFFICIENT_BALANCE.to_owned(),
            Step::Charge => format!("payment declined: {message}"),
            other => format!("{} refused: {message}", other.name()),
        };
        // What was pending besides this step may have been sent: settle it first.
        let unsettled = checkout
            .forward()
            .into_iter()
            .filter(|pending| *pending != step)
            .collect();
        events.push(CheckoutEvent::CheckoutCompensationStarted {
            order_id,
            reason,
            unsettled,
            at,
        });
    }
    events
}

/// The events recording `fact`, and the turn it causes, if any; nothing for a fact already
/// known or one that no longer matters.
fn notice(checkout: &CheckoutDetails, fact: Fact, at: DateTime<Utc>) -> Vec<CheckoutEvent> {
    let order_id = checkout.order_id;
    let running = checkout.phase == Phase::Running;
    let compensate = |reason: String| CheckoutEvent::CheckoutCompensationStarted {
        order_id,
        reason,
        unsettled: checkout.forward(),
        at,
    };
    let turn = match &fact {
        // Known already — also from this checkout's own answered steps (its capture, its
        // refund of a balance payment, its voiding, its cancelling): nothing to record.
        Fact::PaymentCaptured if checkout.captured() => return Vec::new(),
        Fact::PaymentFailed { .. } if checkout.payment_failed => return Vec::new(),
        Fact::PaymentRefunded
            if checkout.payment_refunded || checkout.succeeded(&Step::RefundPayment) =>
        {
            return Vec::new();
        }
        Fact::OrderCancelled { .. } if checkout.order_cancelled => return Vec::new(),
        Fact::PaymentCaptured | Fact::PaymentRefunded => None,
        Fact::PaymentFailed { reason } | Fact::OrderCancelled { reason } => {
            (running && !checkout.captured()).then(|| compensate(reason.clone()))
        }
        Fact::OrderRefunded { reason } => {
            let paid = checkout.phase == Phase::Completed
                || (running && checkout.succeeded(&Step::MarkPaid));
            if !paid {
                return Vec::new();
            }
            Some(CheckoutEvent::CheckoutRefundStarted {
                order_id,
                reason: reason.clone(),
                at,
            })
        }
        Fact::DeadlinePassed => {
            if checkout.deadline_passed || !running || checkout.captured() {
                return Vec::new();
            }
            Some(compensate(DEADLINE_PASSED.to_owned()))
        }
    };
    let mut events = vec![CheckoutEvent::CheckoutNoticed { order_id, fact, at }];
    events.extend(turn);
    events
}

/// `events`, plus the closing event when they leave nothing to do in the checkout's phase.
fn close(
    checkout: &CheckoutDetails,
    mut events: Vec<CheckoutEvent>,
    at: DateTime<Utc>,
) -> Vec<CheckoutEvent> {
    if events.is_empty() {
        return events;
    }
    let CheckoutState::Started(after) =
        Checkout::fold_from(CheckoutState::Started(checkout.clone()), &events)
    else {
        return events;
    };
    if after.settled() {
        let order_id = after.order_id;
        events.push(match after.phase {
            Phase::Compensating { reason, .. } => CheckoutEvent::CheckoutCancelled {
                order_id,
                reason,
                at,
            },
            Phase::Refunding { .. } => CheckoutEvent::CheckoutRefunded { order_id, at },
            _ => CheckoutEvent::CheckoutCompleted { order_id, at },
        });
    }
    events
}
