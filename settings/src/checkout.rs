//! `[checkout]`: the checkout process manager (`APP_CHECKOUT__…`), `docs/checkout.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{SettingsError, http_endpoint};

/// How the checkout process manager consumes, where the services it drives live, and its
/// deadlines.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckoutSettings {
    /// RocketMQ consumer group of the process manager: its replicas share the order and payment
    /// topics' queues.
    pub consumer_group: String,
    /// How long a checkout may take from the order being placed to the payment; past it the
    /// checkout is compensated (stock released, payment voided, order cancelled). Positive.
    pub deadline_secs: u64,
    /// How often each replica looks for deadlines that are due. Positive.
    pub deadline_poll_ms: u64,
    /// How long a replica owns a due deadline it claimed; a replica that dies holding it leaves
    /// it to another after this. Positive.
    pub deadline_claim_secs: u64,
    /// A checkout this long past its deadline and not compensated is "stuck" (listed and
    /// counted).
    pub stuck_after_secs: u64,
    /// The customer service's gRPC endpoint, `http://host:port`.
    pub customer_endpoint: String,
    /// The product service's gRPC endpoint.
    pub product_endpoint: String,
    /// The cart service's gRPC endpoint.
    pub cart_endpoint: String,
    /// The order service's gRPC endpoint.
    pub order_endpoint: String,
    /// The payment service's gRPC endpoint.
    pub payment_endpoint: String,
    /// Deadline of each call to a service or to the payment provider; past it the step is
    /// retried. Positive.
    pub call_timeout_ms: u64,
    /// `host:port` of `/metrics` and `/healthz`; empty for none.
    pub metrics_listen: String,
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        Self {
            consumer_group: "commerce-checkout".to_owned(),
            deadline_secs: 15 * 60,
            deadline_poll_ms: 1_000,
            deadline_claim_secs: 30,
            stuck_after_secs: 60,
            customer_endpoint: "http://127.0.0.1:50051".to_owned(),
            product_endpoint: "http://127.0.0.1:50052".to_owned(),
            cart_endpoint: "http://127.0.0.1:50053".to_owned(),
            order_endpoint: "http://127.0.0.1:50054".to_owned(),
            payment_endpoint: "http://127.0.0.1:50055".to_owned(),
            call_timeout_ms: 5_000,
            metrics_listen: "127.0.0.1:9467".to_owned(),
        }
    }
}

impl CheckoutSettings {
    /// How long a checkout may take.
    pub fn deadline(&self) -> Duration {
        Duration::from_secs(self.deadline_secs)
    }

    /// How often due deadlines are looked for.
    pub fn deadline_poll(&self) -> Duration {
        Duration::from_millis(self.deadline_poll_ms)
    }

    /// How long a claimed deadline belongs to its replica.
    pub fn deadline_claim(&self) -> Duration {
        Duration::from_secs(self.deadline_claim_secs)
    }

    /// How far past its deadline a checkout counts as stuck.
    pub fn stuck_after(&self) -> Duration {
        Duration::from_secs(self.stuck_after_secs)
    }

    /// Deadline of each call.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        for (key, value) in [
            ("checkout.customer_endpoint", &self.customer_endpoint),
            ("checkout.product_endpoint", &self.product_endpoint),
            ("checkout.cart_endpoint", &self.cart_endpoint),
            ("checkout.order_endpoint", &self.order_endpoint),
            ("checkout.payment_endpoint", &self.payment_endpoint),
        ] {
            http_endpoint(key, value)?;
        }
        for (key, value) in [
            ("checkout.deadline_secs", self.deadline_secs),
            ("checkout.deadline_poll_ms", self.deadline_poll_ms),
            ("checkout.deadline_claim_secs", self.deadline_claim_secs),
            ("checkout.call_timeout_ms", self.call_timeout_ms),
        ] {
            if value == 0 {
                return Err(SettingsError::rejected(key, "must be positive"));
            }
        }
        if self.consumer_group.is_empty() {
            return Err(SettingsError::rejected(
                "checkout.consumer_group",
                "must not be empty",
            ));
        }
        Ok(())
    }
}
