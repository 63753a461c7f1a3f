//! The gateway's configuration: where to listen, where the query services answer, how long to
//! wait for them, how bearer tokens are checked, and what the payment provider's webhook needs —
//! derived from the shared [`Settings`] (`[http]`, `[auth]`, `[payments]`; the settings crate
//! documents every variable); `--listen` is the command line's part.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

pub use auth::AuthConfig;
use settings::{PaymentSettings, SecretString, Settings, SettingsError};

/// Everything `App::build` needs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The gRPC endpoint of the query services, `http://host:port` (in a cluster the mesh adds
    /// mTLS, so plain HTTP/2 is all this process speaks).
    pub query_endpoint: String,
    /// Deadline of each gRPC call, connecting included.
    pub query_timeout: Duration,
    /// Token checking; the same secret and issuer as the query services. The webhook also mints
    /// its service token for the payment service with it.
    pub auth: AuthConfig,
    /// The payment provider's webhook (`docs/payments.md`).
    pub webhook: WebhookConfig,
}

/// What the payment provider's webhook needs: the secrets its callbacks may be signed with, how
/// old they may be, and where the payment service answers.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Every valid signing secret (all at once while one is rotated); never printed.
    pub secrets: Vec<SecretString>,
    /// How far a callback's signed timestamp may be from now, either direction.
    pub tolerance: Duration,
    /// The payment service's gRPC endpoint, `http://host:port`; the webhook captures, fails and
    /// refunds there (the same deadline as the queries, [`HttpConfig::query_timeout`]).
    pub payment_endpoint: String,
}

impl WebhookConfig {
    /// The webhook's part of the `[payments]` settings.
    pub fn from_settings(payments: &PaymentSettings) -> Self {
        Self {
            secrets: payments.webhook_secrets(),
            tolerance: payments.webhook_tolerance(),
            payment_endpoint: payments.payment_endpoint.clone(),
        }
    }
}

impl HttpConfig {
    /// The defaults of the `local` stage with the development secret: for tests and local runs.
    pub fn local() -> Self {
        let settings = Settings::default();
        Self {
            listen: settings.http.listen,
            query_endpoint: settings.http.query_endpoint.clone(),
            query_timeout: settings.http.query_timeout(),
            webhook: WebhookConfig::from_settings(&settings.payments),
            auth: settings.auth,
        }
    }

    /// Loads the configuration from the process environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::from_settings(Settings::load()?)
    }

    /// Loads the configuration from an environment map.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, SettingsError> {
        Self::from_settings(Settings::from_env(env)?)
    }

    /// The configuration under `settings`; refuses the development JWT secret and the
    /// development webhook secret outside the `local` stage.
    pub fn from_settings(settings: Settings) -> Result<Self, SettingsError> {
        settings.require_auth()?;
        settings.require_payments()?;
        Ok(Self {
            listen: settings.http.listen,
            query_endpoint: settings.http.query_endpoint.clone(),
            query_timeout: settings.http.query_timeout(),
            webhook: WebhookConfig::from_settings(&settings.payments),
            auth: settings.auth,
        })
    }

    /// The longest a whole HTTP request may take: the gRPC deadline plus a margin, so a slow
    /// query service is reported by the call's own deadline (with its detail) rather than here.
    pub fn request_timeout(&self) -> Duration {
        self.query_timeout + Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_listen_locally_and_ask_the_local_query_endpoint() {
        let config = HttpConfig::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.query_endpoint, "http://127.0.0.1:50060");
        assert_eq!(config.query_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout(), Duration::from_secs(6));
        assert!(config.auth.uses_development_secret());
        assert_eq!(config.auth.issuer, "commerce");
        assert_eq!(config.webhook.payment_endpoint, "http://127.0.0.1:50055");
        assert_eq!(config.webhook.tolerance, Duration::from_secs(300));
        assert_eq!(config.webhook.secrets.len(), 1);
    }

    #[test]
    fn environment_overrides_and_the_secret_never_prints() {
        let secret = "a-very-long-production-secret-of-forty-bytes";
        let webhook_secrets =
            "whsec-new-one-of-at-least-32-bytes-long,whsec-old-one-of-at-least-32-bytes-long";
        let config = HttpConfig::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_STAGE", "prod"),
            ("APP_AUTH__JWT_SECRET", secret),
            ("APP_PAYMENTS__WEBHOOK_SECRETS", webhook_secrets),
            ("APP_PAYMENTS__WEBHOOK_TOLERANCE_SECS", "120"),
            ("APP_PAYMENTS__PAYMENT_ENDPOINT", "http://payment:50055"),
            ("APP_AUTH__ISSUER", "shop"),
            ("APP_HTTP__LISTEN", "0.0.0.0:9000"),
            ("APP_HTTP__QUERY_ENDPOINT", "http://query:50060"),
            ("APP_HTTP__QUERY_TIMEOUT_MS", "2500"),
        ]))
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.query_endpoint, "http://query:50060");
        assert_eq!(config.query_timeout, Duration::from_millis(2500));
        assert_eq!(config.auth.issuer, "shop");
        assert_eq!(config.webhook.secrets.len(), 2);
        assert_eq!(config.webhook.tolerance, Duration::from_secs(120));
        assert_eq!(config.webhook.payment_endpoint, "http://payment:50055");
        let printed = format!("{config:?}");
        assert!(!printed.contains(secret));
        assert!(!printed.contains("whsec-new-one"), "{printed}");
    }

    #[test]
    fn the_development_webhook_secret_is_refused_outside_the_local_stage() {
        let error = HttpConfig::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_STAGE", "prod"),
            (
                "APP_AUTH__JWT_SECRET",
                "a-very-long-production-secret-of-forty-bytes",
            ),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("APP_PAYMENTS__WEBHOOK_SECRETS"),
            "{error}"
        );
    }

    #[test]
    fn the_development_secret_is_refused_outside_the_local_stage() {
        let error = HttpConfig::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_STAGE", "k8s"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("APP_AUTH__JWT_SECRET"),
            "{error}"
        );
    }

    #[test]
    fn malformed_values_are_rejected_naming_the_variable() {
        for (variable, value) in [
            ("APP_HTTP__LISTEN", "not an address"),
            ("APP_HTTP__QUERY_ENDPOINT", "query:50060"),
            ("APP_HTTP__QUERY_ENDPOINT", "ftp://query"),
            ("APP_HTTP__QUERY_TIMEOUT_MS", "soon"),
            ("APP_HTTP__QUERY_TIMEOUT_MS", "2000"),
            ("APP_HTTP__QUERY_TIMEOUT_MS", "0"),
        ] {
            let error = HttpConfig::from_env(env(&[
                ("APP_CONFIG_DIR", "/nonexistent"),
                (variable, value),
            ]))
            .unwrap_err();
            assert!(error.to_string().contains(variable), "{value}: {error}");
        }
    }
}
