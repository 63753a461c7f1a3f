//! `[payments]`: the external payment provider and its signed callbacks (`APP_PAYMENTS__…`),
//! `docs/payments.md`. Read by the checkout process manager (which charges and refunds at the
//! provider), the HTTP API (whose webhook checks the callbacks) and the provider simulator
//! (which signs them).

use std::{net::SocketAddr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{SettingsError, Stage, http_endpoint};

/// The built-in development webhook secret, used when none is configured; refused outside the
/// `local` stage.
pub const DEVELOPMENT_WEBHOOK_SECRET: &str = "whsec-commerce-local-development-do-not-use";

/// The provider, our webhook, and the simulator that plays the provider locally.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct PaymentSettings {
    /// The provider's API base URL, `http://host:port` (charges and refunds are created there).
    pub provider_url: String,
    /// The secrets a callback's signature may be made with, comma-separated (each at least 32
    /// bytes). Several are valid at once while a secret is rotated: the provider signs with the
    /// first; our webhook accepts any. Never printed; mount as a file in a cluster:
    /// `APP_PAYMENTS__WEBHOOK_SECRETS_FILE`.
    #[serde(serialize_with = "crate::redacted")]
    pub webhook_secrets: SecretString,
    /// A callback whose signed timestamp is further than this from now is refused (replays of
    /// old callbacks). Positive.
    pub webhook_tolerance_secs: u64,
    /// The payment service's gRPC endpoint, where the webhook captures, fails and refunds.
    pub payment_endpoint: String,
    /// Where the provider simulator listens; `--listen` beats it.
    pub simulator_listen: SocketAddr,
    /// The URL the provider simulator sends its callbacks to (our webhook).
    pub simulator_webhook_url: String,
    /// How long the simulator waits before answering a charge or refund it was given no script
    /// for.
    pub simulator_delay_ms: u64,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            provider_url: "http://127.0.0.1:8090".to_owned(),
            webhook_secrets: SecretString::from(DEVELOPMENT_WEBHOOK_SECRET),
            webhook_tolerance_secs: 300,
            payment_endpoint: "http://127.0.0.1:50055".to_owned(),
            simulator_listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            simulator_webhook_url: "http://127.0.0.1:8080/api/v1/webhooks/payments".to_owned(),
            simulator_delay_ms: 100,
        }
    }
}

impl PaymentSettings {
    /// The valid webhook secrets, the signing one first.
    pub fn webhook_secrets(&self) -> Vec<SecretString> {
        self.webhook_secrets
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .map(SecretString::from)
            .collect()
    }

    /// How far a callback's timestamp may be from now.
    pub fn webhook_tolerance(&self) -> Duration {
        Duration::from_secs(self.webhook_tolerance_secs)
    }

    /// The simulator's default answer delay.
    pub fn simulator_delay(&self) -> Duration {
        Duration::from_millis(self.simulator_delay_ms)
    }

    /// Whether the only secret is the built-in development one.
    pub fn uses_development_secret(&self) -> bool {
        self.webhook_secrets()
            .iter()
            .any(|secret| secret.expose_secret() == DEVELOPMENT_WEBHOOK_SECRET)
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        http_endpoint("payments.provider_url", &self.provider_url)?;
        http_endpoint("payments.payment_endpoint", &self.payment_endpoint)?;
        let secrets = self.webhook_secrets();
        if secrets.is_empty() {
            return Err(SettingsError::rejected(
                "payments.webhook_secrets",
                "must name at least one secret",
            ));
        }
        if secrets
            .iter()
            .any(|secret| secret.expose_secret().len() < 32)
        {
            return Err(SettingsError::rejected(
                "payments.webhook_secrets",
                "each secret must be at least 32 bytes",
            ));
        }
        if self.webhook_tolerance_secs == 0 {
            return Err(SettingsError::rejected(
                "payments.webhook_tolerance_secs",
                "must be positive",
            ));
        }
        if !self.simulator_webhook_url.starts_with("http://") {
            return Err(SettingsError::rejected(
                "payments.simulator_webhook_url",
                "must be an http:// URL",
            ));
        }
        Ok(())
    }

    /// The development webhook secret only serves the `local` stage: a process that signs or
    /// checks callbacks calls this (through [`crate::Settings::require_payments`]) at start-up.
    pub(crate) fn require_for(&self, stage: Stage) -> Result<(), SettingsError> {
        if stage != Stage::Local && self.uses_development_secret() {
            return Err(SettingsError::rejected(
                "payments.webhook_secrets",
                format!(
                    "must be set outside the local stage (stage is {})",
                    stage.name()
                ),
            ));
        }
        Ok(())
    }
}
