//! The gateway's configuration: where to listen, where the query services answer, how long to
//! wait for them, and how bearer tokens are checked.
//!
//! Read from an environment map (`APP_…` variables, `__` between levels) so it is tested without
//! touching the process environment; the variables and their defaults are tabled in the crate
//! documentation.

use std::{collections::HashMap, fmt, net::SocketAddr, str::FromStr, time::Duration};

pub use auth::AuthConfig;
use settings::{Settings, SettingsError};

/// The query services wait up to this long for a consistency token before answering
/// `not_yet_consistent`; a shorter deadline here would turn every such wait into a timeout.
const CONSISTENCY_WAIT: Duration = Duration::from_secs(2);

/// Why the configuration is unusable. Fatal at start-up: fix the variable it names.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The shared settings (stage, settings file) did not load.
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
}

/// Everything [`App::build`](crate::App::build) needs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The gRPC endpoint of the query services, `http://host:port` (in a cluster the mesh adds
    /// mTLS, so plain HTTP/2 is all this process speaks).
    pub query_endpoint: String,
    /// Deadline of each gRPC call, connecting included.
    pub query_timeout: Duration,
    /// Token checking; the same secret and issuer as the query services.
    pub auth: AuthConfig,
}

impl HttpConfig {
    /// The defaults of the `local` stage with the development secret: for tests and local runs.
    pub fn local() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            query_endpoint: "http://127.0.0.1:50060".to_owned(),
            query_timeout: Duration::from_secs(5),
            auth: AuthConfig::development(),
        }
    }

    /// Loads the configuration from the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env(std::env::vars().collect())
    }

    /// Loads the configuration from an environment map.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = Self::local();
        if let Some(listen) = parse(&env, "APP_HTTP__LISTEN")? {
            config.listen = listen;
        }
        if let Some(endpoint) = env.get("APP_HTTP__QUERY_ENDPOINT") {
            config.query_endpoint = endpoint_url("APP_HTTP__QUERY_ENDPOINT", endpoint)?;
        }
        if let Some(millis) = parse::<u64>(&env, "APP_HTTP__QUERY_TIMEOUT_MS")? {
            let timeout = Duration::from_millis(millis);
            if timeout <= CONSISTENCY_WAIT {
                return Err(ConfigError::Invalid {
                    variable: "APP_HTTP__QUERY_TIMEOUT_MS",
                    reason: format!(
                        "must exceed the query services' consistency wait of {} ms",
                        CONSISTENCY_WAIT.as_millis()
                    ),
                });
            }
            config.query_timeout = timeout;
        }
        // The stage (and its settings file) is read the same way by every process.
        let stage = Settings::from_env(env.clone())?.stage();
        config.auth = AuthConfig::from_env(&env, stage).map_err(|error| ConfigError::Invalid {
            variable: error.variable,
            reason: error.reason,
        })?;
        Ok(config)
    }

    /// The longest a whole HTTP request may take: the gRPC deadline plus a margin, so a slow
    /// query service is reported by the call's own deadline (with its detail) rather than here.
    pub fn request_timeout(&self) -> Duration {
        self.query_timeout + Duration::from_secs(1)
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
        .map_err(|_| invalid("must be a URL such as http://127.0.0.1:50060"))?;
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
    fn defaults_listen_locally_and_ask_the_local_query_endpoint() {
        let config = HttpConfig::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.query_endpoint, "http://127.0.0.1:50060");
        assert_eq!(config.query_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout(), Duration::from_secs(6));
        assert!(config.auth.uses_development_secret());
        assert_eq!(config.auth.issuer, "commerce");
    }

    #[test]
    fn environment_overrides_and_the_secret_never_prints() {
        let secret = "a-very-long-production-secret-of-forty-bytes";
        let config = HttpConfig::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_STAGE", "prod"),
            ("APP_AUTH__JWT_SECRET", secret),
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
        assert!(!format!("{config:?}").contains(secret));
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
