//! What a command service's `App::build` needs: which service to run and where to listen (the
//! command line's part), derived from the shared [`Settings`] (`[command]`, `[auth]`,
//! `[database]`, `[event_store]` — the settings crate documents every variable).

use std::{collections::HashMap, fmt, net::SocketAddr, str::FromStr, time::Duration};

use aggregates::{Aggregate, Cart, Customer, Order, Payment, Product};
pub use auth::AuthConfig;
use settings::{Settings, SettingsError};

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
    /// Every service, in port order.
    pub const ALL: [Self; 5] = [
        Self::Customer,
        Self::Product,
        Self::Cart,
        Self::Order,
        Self::Payment,
    ];

    /// The name used on the command line and in logs: the category of the streams it appends to.
    pub fn name(self) -> &'static str {
        match self {
            Self::Customer => Customer::CATEGORY,
            Self::Product => Product::CATEGORY,
            Self::Cart => Cart::CATEGORY,
            Self::Order => Order::CATEGORY,
            Self::Payment => Payment::CATEGORY,
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

/// The service name on the command line is not one this binary serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service {0:?}: expected customer, product, cart, order or payment")]
pub struct UnknownService(pub String);

impl FromStr for ServiceKind {
    type Err = UnknownService;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|service| service.name() == name)
            .ok_or_else(|| UnknownService(name.to_owned()))
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
    /// The product service's gRPC endpoint, `http://host:port`.
    pub product_endpoint: String,
    /// Deadline of each call to another service, connecting included.
    pub timeout: Duration,
}

impl Default for DependencyConfig {
    fn default() -> Self {
        let command = settings::CommandSettings::default();
        Self {
            product_endpoint: command.product_endpoint.clone(),
            timeout: command.dependency_timeout(),
        }
    }
}

impl CommandConfig {
    /// Loads the configuration of `service` from the process environment.
    pub fn load(service: ServiceKind) -> Result<Self, SettingsError> {
        Self::from_settings(service, Settings::load()?)
    }

    /// Loads the configuration of `service` from an environment map.
    pub fn from_env(
        service: ServiceKind,
        env: HashMap<String, String>,
    ) -> Result<Self, SettingsError> {
        Self::from_settings(service, Settings::from_env(env)?)
    }

    /// The configuration of `service` under `settings`; refuses the development JWT secret
    /// outside the `local` stage.
    pub fn from_settings(service: ServiceKind, settings: Settings) -> Result<Self, SettingsError> {
        settings.require_auth()?;
        let command = &settings.command;
        Ok(Self {
            service,
            listen: command
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], service.default_port()))),
            auth: settings.auth.clone(),
            max_request_bytes: command.max_request_bytes,
            max_attempts: command.max_attempts.max(1),
            dependencies: DependencyConfig {
                product_endpoint: command.product_endpoint.clone(),
                timeout: command.dependency_timeout(),
            },
            settings,
        })
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
