//! What the simulator needs, derived from the shared settings' `[payments]` section (the settings
//! crate documents every variable); `--listen` is the command line's part.

use std::{net::SocketAddr, time::Duration};

use settings::{SecretString, Settings, SettingsError, variable_of};

/// Everything `App::build` needs.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Where to listen; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Where callbacks are sent (our webhook), an `http://` URL.
    pub webhook_url: String,
    /// The secret callbacks are signed with: the first of `payments.webhook_secrets`.
    pub signing_secret: SecretString,
    /// How long a charge or refund without a script (or a script without `delay_ms`) waits for
    /// its outcome.
    pub default_delay: Duration,
    /// How a callback that was not answered `2xx` is retried.
    pub retry: RetryPolicy,
}

/// How undelivered callbacks are retried: `max_tries` in all, waiting `first_backoff`, then
/// twice that, and so on, between two tries; each try given `attempt_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed try.
    pub first_backoff: Duration,
    /// Tries in all, the first included; at least 1.
    pub max_tries: u32,
    /// How long one try may take, connecting included.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// `docs/payments.md`: 0.2 s, doubling, up to 10 tries (about 102 s of waiting in all,
    /// inside the webhook's 300 s tolerance); 10 s per try.
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(200),
            max_tries: 10,
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `attempt` (1-based): `first_backoff` × 2^(attempt−1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff
            .saturating_mul(2_u32.saturating_pow(attempt.saturating_sub(1)))
    }
}

impl ProviderConfig {
    /// The configuration under `settings`; refuses the development webhook secret outside the
    /// `local` stage.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        settings.require_payments()?;
        let payments = &settings.payments;
        let signing_secret = payments
            .webhook_secrets()
            .into_iter()
            .next()
            .ok_or_else(|| SettingsError::Rejected {
                variable: variable_of("payments.webhook_secrets"),
                reason: "must name at least one secret".to_owned(),
            })?;
        Ok(Self {
            listen: payments.simulator_listen,
            webhook_url: payments.simulator_webhook_url.clone(),
            signing_secret,
            default_delay: payments.simulator_delay(),
            retry: RetryPolicy::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use settings::ExposeSecret;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("APP_CONFIG_DIR".to_owned(), "/nonexistent".to_owned());
        Settings::from_env(env)
    }

    #[test]
    fn the_first_secret_signs_and_the_defaults_are_local() {
        let config = ProviderConfig::from_settings(
            &settings(&[(
                "APP_PAYMENTS__WEBHOOK_SECRETS",
                "new-secret-of-at-least-thirty-two-bytes, old-secret-of-at-least-thirty-two-bytes",
            )])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            config.signing_secret.expose_secret(),
            "new-secret-of-at-least-thirty-two-bytes"
        );
        assert_eq!(config.listen, "127.0.0.1:8090".parse().unwrap());
        assert_eq!(
            config.webhook_url,
            "http://127.0.0.1:8080/api/v1/webhooks/payments"
        );
        assert_eq!(config.default_delay, Duration::from_millis(100));
    }

    #[test]
    fn the_development_secret_is_refused_outside_the_local_stage() {
        let error =
            ProviderConfig::from_settings(&settings(&[("APP_STAGE", "k8s")]).unwrap()).unwrap_err();
        assert!(
            error.to_string().contains("APP_PAYMENTS__WEBHOOK_SECRETS"),
            "{error}"
        );
    }

    #[test]
    fn the_backoff_doubles_from_200_ms() {
        let retry = RetryPolicy::default();
        let waits: Vec<u128> = (1..retry.max_tries)
            .map(|attempt| retry.backoff(attempt).as_millis())
            .collect();
        assert_eq!(
            waits,
            [200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200]
        );
        // Saturates rather than overflows, whatever the attempt number.
        assert_eq!(
            retry.backoff(u32::MAX),
            Duration::from_millis(200).saturating_mul(u32::MAX)
        );
    }
}
