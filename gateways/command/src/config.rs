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
//! | `APP_COMMAND__LISTEN` | `127.0.0.1:<service's port>` (customer 50051, product 50052, cart 50053, order 50054, payment 50055) |
//! | `APP_COMMAND__MAX_REQUEST_BYTES` | 65536 |
//! | `APP_COMMAND__MAX_ATTEMPTS` | 5 |
//! | `APP_COMMAND__PRODUCT_ENDPOINT` | `http://127.0.0.1:50052` (the product service; used by cart) |
//! | `APP_COMMAND__DEPENDENCY_TIMEOUT_MS` | 2000 (deadline of each call to another service) |

use std::{collections::HashMap, fmt, net::SocketAddr, str::FromStr, time::Duration};

pub use auth::AuthConfig;
use settings::{Settings, SettingsError};

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
    #[error("unknown service {0:?}: expected customer, product, cart, order or payment")]
    UnknownService(String),
}

/// The bounded contexts this binary can serve, one per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// `commerce.customer.v1.CustomerCommands`.
    Customer,
    /// `commerce.product.v1.ProductCommands` and `ProductStock`.
    Product,
    /// `commerce.cart.v1.CartCommands` (calls the product service's `ProductStock`).
    Cart,
    /// `commerce.order.v1.OrderCommands` (reads cart streams to place orders).
    Order,
    /// `commerce.payment.v1.PaymentCommands`.
    Payment,
}

impl ServiceKind {
    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Product => "product",
            Self::Cart => "cart",
            Self::Order => "order",
            Self::Payment => "payment",
        }
    }

    /// The port the service listens on unless told otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Customer => 50051,
            Self::Product => 50052,
            Self::Cart => 50053,
            Self::Order => 50054,
            Self::Payment => 50055,
        }
    }
}

impl FromStr for ServiceKind {
    type Err = ConfigError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "customer" => Ok(Self::Customer),
            "product" => Ok(Self::Product),
            "cart" => Ok(Self::Cart),
            "order" => Ok(Self::Order),
            "payment" => Ok(Self::Payment),
            other => Err(ConfigError::UnknownService(other.to_owned())),
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    /// The other services this one calls synchronously.
    pub dependencies: DependencyConfig,
}

/// Where the services a command service calls synchronously live, and how long it waits for
/// them. Only the cart calls another service (the product service's `ProductStock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyConfig {
    /// The product service's gRPC endpoint, `http://host:port` (in a cluster the mesh adds
    /// mTLS, so plain HTTP/2 is all this process speaks).
    pub product_endpoint: String,
    /// Deadline of each call to another service, connecting included; past it the command fails
    /// with `UNAVAILABLE` and changes nothing.
    pub timeout: Duration,
}

impl Default for DependencyConfig {
    fn default() -> Self {
        Self {
            product_endpoint: format!("http://127.0.0.1:{}", ServiceKind::Product.default_port()),
            timeout: Duration::from_secs(2),
        }
    }
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
        let mut dependencies = DependencyConfig::default();
        if let Some(endpoint) = env.get("APP_COMMAND__PRODUCT_ENDPOINT") {
            dependencies.product_endpoint =
                endpoint_url("APP_COMMAND__PRODUCT_ENDPOINT", endpoint)?;
        }
        if let Some(millis) = parse::<u64>(&env, "APP_COMMAND__DEPENDENCY_TIMEOUT_MS")? {
            if millis == 0 {
                return Err(ConfigError::Invalid {
                    variable: "APP_COMMAND__DEPENDENCY_TIMEOUT_MS",
                    reason: "must be positive".to_owned(),
                });
            }
            dependencies.timeout = Duration::from_millis(millis);
        }
        let settings = Settings::from_env(env.clone())?;
        let auth =
            AuthConfig::from_env(&env, settings.stage()).map_err(|error| ConfigError::Invalid {
                variable: error.variable,
                reason: error.reason,
            })?;
        Ok(Self {
            service,
            listen,
            settings,
            auth,
            max_request_bytes,
            max_attempts,
            dependencies,
        })
    }
}

/// An `http://host:port` endpoint, checked so a typo fails at start-up, not on the first call.
fn endpoint_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        variable,
        reason: reason.to_owned(),
    };
    let uri: tonic::codegen::http::Uri = value
        .parse()
        .map_err(|_| invalid("must be a URL such as http://127.0.0.1:50052"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(invalid("must be an http://host:port URL"));
    }
    Ok(value.to_owned())
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
        assert_eq!(
            config.dependencies.product_endpoint,
            "http://127.0.0.1:50052"
        );
        assert_eq!(config.dependencies.timeout, Duration::from_secs(2));
    }

    #[test]
    fn every_service_has_its_own_name_and_default_port() {
        let services = [
            ("customer", 50051),
            ("product", 50052),
            ("cart", 50053),
            ("order", 50054),
            ("payment", 50055),
        ];
        for (name, port) in services {
            let service: ServiceKind = name.parse().unwrap();
            assert_eq!(service.name(), name);
            assert_eq!(service.default_port(), port);
        }
    }

    #[test]
    fn the_product_endpoint_and_dependency_timeout_come_from_the_environment() {
        let config = CommandConfig::from_env(
            ServiceKind::Cart,
            env(&[
                ("APP_CONFIG_DIR", "/nonexistent"),
                ("APP_COMMAND__PRODUCT_ENDPOINT", "http://product:50052"),
                ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "250"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 50053);
        assert_eq!(config.dependencies.product_endpoint, "http://product:50052");
        assert_eq!(config.dependencies.timeout, Duration::from_millis(250));
        for (variable, value) in [
            ("APP_COMMAND__PRODUCT_ENDPOINT", "product:50052"),
            ("APP_COMMAND__PRODUCT_ENDPOINT", "ftp://product"),
            ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "0"),
            ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "soon"),
        ] {
            let error = CommandConfig::from_env(
                ServiceKind::Cart,
                env(&[("APP_CONFIG_DIR", "/nonexistent"), (variable, value)]),
            )
            .unwrap_err();
            assert!(error.to_string().contains(variable), "{value}: {error}");
        }
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
        assert!("warehouse".parse::<ServiceKind>().is_err());
        let error = CommandConfig::from_env(
            ServiceKind::Customer,
            env(&[("APP_COMMAND__LISTEN", "not an address")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("APP_COMMAND__LISTEN"), "{error}");
    }
}
