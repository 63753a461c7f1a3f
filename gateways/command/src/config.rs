//! The command service's configuration: which service to run, where to listen, the JWT settings
//! and limits, on top of the shared [`Settings`] (database, event store).
//!
//! Read from an environment map (`APP_…` variables, `__` between levels) so it is tested without
//! touching the process environment:
//!
//! | variable | default |
//! |---|---|
//! | `APP_AUTH__JWT_SECRET` | a development secret, refused outside the `local` stage |
//! | `APP_AUTH__ISSUER` | `commerce` |
//! | `APP_COMMAND__LISTEN` | `127.0.0.1:<service's port>` (customer 50051, product 50052) |
//! | `APP_COMMAND__MAX_REQUEST_BYTES` | 65536 |
//! | `APP_COMMAND__MAX_ATTEMPTS` | 5 |

use std::{collections::HashMap, fmt, net::SocketAddr, str::FromStr};

use settings::{ExposeSecret, SecretString, Settings, SettingsError, Stage};

/// The development JWT secret used when none is configured; only accepted in the `local` stage.
const DEV_JWT_SECRET: &str = "commerce-local-development-secret-do-not-use-in-production";

/// Why the configuration is unusable. Fatal at start-up: fix the variable it names.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The shared settings did not load.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A variable holds a value of the wrong shape.
    #[error("invalid {variable}: {reason}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The service name is not one this binary serves.
    #[error("unknown service {0:?}: expected customer or product")]
    UnknownService(String),
}

/// The bounded contexts this binary can serve, one per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// `commerce.customer.v1.CustomerCommands`.
    Customer,
    /// `commerce.product.v1.ProductCommands` and `ProductStock`.
    Product,
}

impl ServiceKind {
    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Product => "product",
        }
    }

    /// The port the service listens on unless told otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Customer => 50051,
            Self::Product => 50052,
        }
    }
}

impl FromStr for ServiceKind {
    type Err = ConfigError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "customer" => Ok(Self::Customer),
            "product" => Ok(Self::Product),
            other => Err(ConfigError::UnknownService(other.to_owned())),
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How bearer tokens are checked: HS256 with a shared secret, a fixed issuer, `exp` required.
#[derive(Clone)]
pub struct AuthConfig {
    /// The HMAC secret; never printed.
    pub jwt_secret: SecretString,
    /// Required `iss` claim.
    pub issuer: String,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"[REDACTED]")
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl AuthConfig {
    /// The development configuration (the built-in secret, issuer `commerce`); for tests and
    /// local runs.
    pub fn development() -> Self {
        Self {
            jwt_secret: SecretString::from(DEV_JWT_SECRET),
            issuer: "commerce".to_owned(),
        }
    }

    /// Whether the secret is the built-in development one.
    pub fn uses_development_secret(&self) -> bool {
        self.jwt_secret.expose_secret() == DEV_JWT_SECRET
    }
}

/// Everything `App::build` needs.
#[derive(Debug, Clone)]
pub struct CommandConfig {
    /// Which service this process serves.
    pub service: ServiceKind,
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Shared settings: database pool and event store limits.
    pub settings: Settings,
    /// Token checking.
    pub auth: AuthConfig,
    /// Largest accepted request message, in bytes; larger ones are refused with `OUT_OF_RANGE`.
    pub max_request_bytes: usize,
    /// Attempts of load → decide → append before a command gives up with `ABORTED`.
    pub max_attempts: u32,
}

impl CommandConfig {
    /// Loads the configuration of `service` from the process environment.
    pub fn load(service: ServiceKind) -> Result<Self, ConfigError> {
        Self::from_env(service, std::env::vars().collect())
    }

    /// Loads the configuration of `service` from an environment map.
    pub fn from_env(
        service: ServiceKind,
        env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let listen = parse(&env, "APP_COMMAND__LISTEN")?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], service.default_port())));
        let max_request_bytes = parse(&env, "APP_COMMAND__MAX_REQUEST_BYTES")?.unwrap_or(64 * 1024);
        let max_attempts = parse(&env, "APP_COMMAND__MAX_ATTEMPTS")?
            .unwrap_or(5u32)
            .max(1);
        let mut auth = AuthConfig::development();
        if let Some(secret) = env.get("APP_AUTH__JWT_SECRET") {
            auth.jwt_secret = SecretString::from(secret.as_str());
        }
        if let Some(issuer) = env.get("APP_AUTH__ISSUER") {
            auth.issuer.clone_from(issuer);
        }
        if auth.jwt_secret.expose_secret().len() < 32 {
            return Err(ConfigError::Invalid {
                variable: "APP_AUTH__JWT_SECRET",
                reason: "must be at least 32 bytes".to_owned(),
            });
        }
        let settings = Settings::from_env(env)?;
        if settings.stage() != Stage::Local && auth.uses_development_secret() {
            return Err(ConfigError::Invalid {
                variable: "APP_AUTH__JWT_SECRET",
                reason: format!(
                    "must be set outside the local stage (stage is {})",
                    settings.stage().name()
                ),
            });
        }
        Ok(Self {
            service,
            listen,
            settings,
            auth,
            max_request_bytes,
            max_attempts,
        })
    }
}

fn parse<T: FromStr>(
    env: &HashMap<String, String>,
    variable: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    env.get(variable)
        .map(|value| {
            value.parse().map_err(|error: T::Err| ConfigError::Invalid {
                variable,
                reason: error.to_string(),
            })
        })
        .transpose()
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
    fn defaults_listen_locally_on_the_services_port_with_the_development_secret() {
        let config = CommandConfig::from_env(
            ServiceKind::Product,
            env(&[("APP_CONFIG_DIR", "/nonexistent")]),
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:50052".parse().unwrap());
        assert_eq!(config.max_request_bytes, 65536);
        assert_eq!(config.max_attempts, 5);
        assert!(config.auth.uses_development_secret());
        assert_eq!(config.auth.issuer, "commerce");
    }

    #[test]
    fn environment_overrides_and_the_secret_never_prints() {
        let secret = "a-very-long-production-secret-of-forty-bytes";
        let config = CommandConfig::from_env(
            ServiceKind::Customer,
            env(&[
                ("APP_CONFIG_DIR", "/nonexistent"),
                ("APP_STAGE", "prod"),
                ("APP_AUTH__JWT_SECRET", secret),
                ("APP_AUTH__ISSUER", "shop"),
                ("APP_COMMAND__LISTEN", "0.0.0.0:7000"),
                ("APP_COMMAND__MAX_ATTEMPTS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.max_attempts, 3);
        assert_eq!(config.auth.issuer, "shop");
        assert!(!format!("{config:?}").contains(secret));
    }

    #[test]
    fn the_development_secret_is_refused_outside_the_local_stage() {
        let error = CommandConfig::from_env(
            ServiceKind::Customer,
            env(&[("APP_CONFIG_DIR", "/nonexistent"), ("APP_STAGE", "k8s")]),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("APP_AUTH__JWT_SECRET"),
            "{error}"
        );
    }

    #[test]
    fn unknown_services_and_malformed_values_are_rejected() {
        assert!("cart".parse::<ServiceKind>().is_err());
        let error = CommandConfig::from_env(
            ServiceKind::Customer,
            env(&[("APP_COMMAND__LISTEN", "not an address")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("APP_COMMAND__LISTEN"), "{error}");
    }
}
