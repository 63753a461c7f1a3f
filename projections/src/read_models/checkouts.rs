//! Read model `checkouts` (PostgreSQL, category `checkout`): every checkout the process manager
//! ran (`docs/checkout.md`, stream `checkout-<order id>`), where it is, and each of its events
//! as a timeline its customer can follow.
//!
//! - `rm_checkouts`, primary key `order_id`: `customer_id`, `payment_id`, `method` (`balance`,
//!   `external`), `total_minor` + `currency`, `status` (a [`Phase::name`]: `running`,
//!   `compensating`, `refunding`, `completed`, `cancelled`, `refunded`), `reason` (why it is
//!   compensating, then cancelled, or refunding; `NULL` otherwise), `deadline_at`, `started_at`,
//!   `updated_at` (the events' `at`), `started_position` (global position of
//!   `CheckoutStarted`, the paging cursor) and `stream_version`. A partial index on
//!   `started_position` over the statuses the process manager still drives serves [`stuck`].
//! - `rm_checkout_timeline`, primary key `(order_id, stream_version)`: one row per event:
//!   `kind` (the event type), `step` (a [`Step::name`], for a step's answer), `detail` (a
//!   refusal's message, the fact noticed, or a turn's reason) and `at`.
//!
//! Readers: [`get`], [`stuck`] (oldest first, cursor = `started_position`).
//!
//! [`Step::name`]: aggregates::checkout::Step::name

use aggregates::{
    OrderId,
    checkout::{CheckoutEvent, Fact, Phase},
    payment::PaymentMethod,
};
use event_store::RecordedEvent;
use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::{decode, int8, registry};
use crate::{PostgresProjection, ProjectionError};

mod read;

pub use read::{CheckoutPage, CheckoutView, TimelineEntry, get, stuck};

/// The statuses ([`Phase::name`]) of a checkout the process manager still drives: the ones
/// that can be stuck. `completed` is not among them: nothing is pending until the customer
/// cancels.
pub fn in_flight_statuses() -> [&'static str; 3] {
    [
        Phase::Running.name(),
        compensating(String::new()).name(),
        refunding().name(),
    ]
}

/// Every status a checkout can have, in lifecycle order.
pub fn statuses() -> [&'static str; 6] {
    [
        Phase::Running.name(),
        compensating(String::new()).name(),
        refunding().name(),
        Phase::Completed.name(),
        Phase::Cancelled {
            reason: String::new(),
        }
        .name(),
        Phase::Refunded.name(),
    ]
}

fn refunding() -> Phase {
    Phase::Refunding {
        reason: String::new(),
    }
}

fn compensating(reason: String) -> Phase {
    Phase::Compensating {
        reason,
        unsettled: Vec::new(),
    }
}

/// The `checkouts` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkouts;

impl PostgresProjection for Checkouts {
    fn name(&self) -> &'static str {
        registry::CHECKOUTS.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::CHECKOUTS.categories
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_checkouts", "rm_checkout_timeline"]
    }

    fn ddl(&self) -> &'static str {
        include_str!("ddl/checkouts.sql")
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }
}

pub(crate) fn method_name(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Balance => "balance",
        PaymentMethod::External => "external",
    }
}

/// The phase an event turns the checkout to, as `evolve` does; `None` for the events that
/// record an answer or a fact and leave the phase as it is.
fn turn(event: &CheckoutEvent) -> Option<Phase> {
    match event {
        CheckoutEvent::CheckoutCompensationStarted { reason, .. } => {
            Some(compensating(reason.clone()))
        }
        CheckoutEvent::CheckoutRefundStarted { reason, .. } => Some(Phase::Refunding {
            reason: reason.clone(),
        }),
        CheckoutEvent::CheckoutCompleted { .. } => Some(Phase::Completed),
        CheckoutEvent::CheckoutCancelled { reason, .. } => Some(Phase::Cancelled {
            reason: reason.clone(),
        }),
        CheckoutEvent::CheckoutRefunded { .. } => Some(Phase::Refunded),
        CheckoutEvent::CheckoutStarted { .. }
        | CheckoutEvent::CheckoutStepSucceeded { .. }
        | CheckoutEvent::CheckoutStepRefused { .. }
        | CheckoutEvent::CheckoutNoticed { .. } => None,
    }
}

/// A fact as the timeline shows it: its snake_case name, and its reason when it has one.
fn fact_detail(fact: &Fact) -> String {
    match fact {
        Fact::PaymentCaptured => "payment_captured".to_owned(),
        Fact::PaymentFailed { reason } => format!("payment_failed: {reason}"),
        Fact::PaymentRefunded => "payment_refunded".to_owned(),
        Fact::OrderCancelled { reason } => format!("order_cancelled: {reason}"),
        Fact::OrderRefunded { reason } => format!("order_refunded: {reason}"),
        Fact::DeadlinePassed => "deadline_passed".to_owned(),
    }
}

/// The timeline columns `step` and `detail` of an event.
fn step_and_detail(event: &CheckoutEvent) -> (Option<String>, Option<String>) {
    match event {
        CheckoutEvent::CheckoutStepSucceeded { step, .. } => (Some(step.name()), None),
        CheckoutEvent::CheckoutStepRefused { step, reason, .. } => {
            (Some(step.name()), Some(reason.clone()))
        }
        CheckoutEvent::CheckoutNoticed { fact, .. } => (None, Some(fact_detail(fact))),
        CheckoutEvent::CheckoutCompensationStarted { reason, .. }
        | CheckoutEvent::CheckoutRefundStarted { reason, .. }
        | CheckoutEvent::CheckoutCancelled { reason, .. } => (None, Some(reason.clone())),
        CheckoutEvent::CheckoutStarted { .. }
        | CheckoutEvent::CheckoutCompleted { .. }
        | CheckoutEvent::CheckoutRefunded { .. } => (None, None),
    }
}

fn event_at(event: &CheckoutEvent) -> chrono::DateTime<chrono::Utc> {
    match event {
        CheckoutEvent::CheckoutStarted { at, .. }
        | CheckoutEvent::CheckoutStepSucceeded { at, .. }
        | CheckoutEvent::CheckoutStepRefused { at, .. }
        | CheckoutEvent::CheckoutNoticed { at, .. }
        | CheckoutEvent::CheckoutCompensationStarted { at, .. }
        | CheckoutEvent::CheckoutRefundStarted { at, .. }
        | CheckoutEvent::CheckoutCompleted { at, .. }
        | CheckoutEvent::CheckoutCancelled { at, .. }
        | CheckoutEvent::CheckoutRefunded { at, .. } => *at,
    }
}

async fn apply(tx: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let Some(decoded) = decode::<CheckoutEvent>(event)? else {
        return Ok(());
    };
    let version = int8(event.version);
    let order_id: OrderId = decoded.order_id();
    let at = event_at(&decoded);
    // Every event touches exactly one checkout row; anything else contradicts the model.
    let rows = if let CheckoutEvent::CheckoutStarted {
        customer_id,
        payment_id,
        method,
        total,
        deadline,
        ..
    } = &decoded
    {
        sqlx::query(
            "INSERT INTO rm_checkouts (order_id, customer_id, payment_id, method, total_minor, \
                 currency, status, deadline_at, started_at, updated_at, started_position, \
                 stream_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id.0)
        .bind(customer_id.0)
        .bind(payment_id.0)
        .bind(method_name(*method))
        .bind(total.amount_minor())
        .bind(total.currency().to_string())
        .bind(Phase::Running.name())
        .bind(deadline)
        .bind(at)
        .bind(int8(event.position))
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        let phase = turn(&decoded);
        // A turn sets the status (and a reason, if it gives one: refunded keeps the refund's);
        // any other event only the bookkeeping.
        sqlx::query(
            "UPDATE rm_checkouts SET status = COALESCE($2, status), \
                 reason = COALESCE($3, reason), updated_at = $4, stream_version = $5 \
             WHERE order_id = $1",
        )
        .bind(order_id.0)
        .bind(phase.as_ref().map(Phase::name))
        .bind(phase.as_ref().and_then(Phase::reason))
        .bind(at)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    };
    if rows != 1 {
        return Err(ProjectionError::Inconsistent(format!(
            "{} for checkout {order_id} does not fit the checkouts read model",
            event.event_type
        )));
    }
    let (step, detail) = step_and_detail(&decoded);
    sqlx::query(
        "INSERT INTO rm_checkout_timeline (order_id, stream_version, kind, step, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id.0)
    .bind(version)
    .bind(&event.event_type)
    .bind(step)
    .bind(detail)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_flight_statuses_are_the_statuses_of_phases_that_are_neither_final_nor_completed() {
        let all = statuses();
        assert_eq!(
            all,
            [
                "running",
                "compensating",
                "refunding",
                "completed",
                "cancelled",
                "refunded"
            ]
        );
        assert_eq!(
            in_flight_statuses(),
            ["running", "compensating", "refunding"]
        );
        let final_ones = [
            Phase::Cancelled {
                reason: String::new(),
            },
            Phase::Refunded,
        ];
        for phase in final_ones {
            assert!(phase.is_final());
            assert!(!in_flight_statuses().contains(&phase.name()));
        }
    }
}
