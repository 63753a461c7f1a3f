//! The process manager's metrics, served on `checkout.metrics_listen` (`/metrics`).

use server::{Counter, Gauge, Registry};

/// Counters and gauges of one process manager replica.
#[derive(Debug, Clone, Default)]
pub struct CheckoutMetrics {
    /// Inputs recorded in checkout streams (starts, answers, facts, deadlines), duplicates
    /// included.
    pub inputs: Counter,
    /// Steps answered (done or refused).
    pub steps_answered: Counter,
    /// Step sends that failed transiently and will be retried.
    pub step_retries: Counter,
    /// Deadlines fired by this replica.
    pub deadlines_fired: Counter,
    /// Messages that are not readable events (skipped and logged).
    pub undecodable: Counter,
    /// Checkouts more than `checkout.stuck_after_secs` past their deadline and not final.
    pub stuck: Gauge,
}

impl CheckoutMetrics {
    /// New metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "checkout_inputs",
            "inputs recorded in checkout streams",
            metrics.inputs.clone(),
        );
        registry.register(
            "checkout_steps_answered",
            "steps answered (done or refused)",
            metrics.steps_answered.clone(),
        );
        registry.register(
            "checkout_step_retries",
            "step sends that failed transiently",
            metrics.step_retries.clone(),
        );
        registry.register(
            "checkout_deadlines_fired",
            "deadlines fired",
            metrics.deadlines_fired.clone(),
        );
        registry.register(
            "checkout_undecodable_messages",
            "messages that are not readable events",
            metrics.undecodable.clone(),
        );
        registry.register(
            "checkout_stuck",
            "checkouts past their deadline by more than stuck_after and not final",
            metrics.stuck.clone(),
        );
        metrics
    }
}
