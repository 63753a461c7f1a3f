//! The query service's configuration, on top of the shared [`Settings`] (database, Redis, the
//! projections' Redis key prefix).
//!
//! Read from an environment map (`APP_…` variables, `__` between levels):
//!
//! | variable | default |
//! |---|---|
//! | `APP_QUERY__LISTEN` | `127.0.0.1:50060` (`--listen` overrides) |
//! | `APP_QUERY__METRICS_LISTEN` | `127.0.0.1:9466` (`/metrics`, `/healthz`) |
//! | `APP_QUERY__CACHE_CAPACITY` | 10000 entries per cache |
//! | `APP_QUERY__CACHE_TTL_MS` | 1000 |
//! | `APP_QUERY__CONSISTENCY_WAIT_MS` | 2000 (longest wait for a consistency token) |
//! | `APP_QUERY__MAX_REQUEST_BYTES` | 16384 |
//! | `APP_AUTH__JWT_SECRET`, `APP_AUTH__ISSUER` | see `auth` |

use std::{collections::HashMap, net::SocketAddr, str::FromStr, time::Duration};

use auth::AuthConfig;
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
}

/// Everything [`crate::App::build`] needs.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// gRPC address; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Metrics address (`host:port`); `None` serves no metrics endpoint (tests).
    pub metrics_listen: Option<String>,
    /// Shared settings: database, Redis, the projections' key prefix.
    pub settings: Settings,
    /// Token checking.
    pub auth: AuthConfig,
    /// Entries per cache.
    pub cache_capacity: u64,
    /// How long a cached answer may be served to queries without a consistency token.
    pub cache_ttl: Duration,
    /// Longest wait for a read model to reach a consistency token.
    pub consistency_wait: Duration,
    /// Largest accepted request message, in bytes.
    pub max_request_bytes: usize,
}

impl QueryConfig {
    /// The default gRPC port.
    pub const DEFAULT_PORT: u16 = 50060;

    /// Loads the configuration from the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env(std::env::vars().collect())
    }

    /// Loads the configuration from an environment map.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let listen = parse(&env, "APP_QUERY__LISTEN")?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], Self::DEFAULT_PORT)));
        let metrics_listen = Some(
            env.get("APP_QUERY__METRICS_LISTEN")
                .cloned()
                .unwrap_or_else(|| "127.0.0.1:9466".to_owned()),
        );
        let cache_capacity = parse(&env, "APP_QUERY__CACHE_CAPACITY")?.unwrap_or(10_000);
        let cache_ttl =
            Duration::from_millis(parse(&env, "APP_QUERY__CACHE_TTL_MS")?.unwrap_or(1000));
        let wait_ms: u64 = parse(&env, "APP_QUERY__CONSISTENCY_WAIT_MS")?.unwrap_or(2000);
        if wait_ms > 30_000 {
            return Err(ConfigError::Invalid {
                variable: "APP_QUERY__CONSISTENCY_WAIT_MS",
                reason: "at most 30000".to_owned(),
            });
        }
        let max_request_bytes = parse(&env, "APP_QUERY__MAX_REQUEST_BYTES")?.unwrap_or(16 * 1024);
        let settings = Settings::from_env(env.clone())?;
        let auth =
            AuthConfig::from_env(&env, settings.stage()).map_err(|error| ConfigError::Invalid {
                variable: error.variable,
                reason: error.reason,
            })?;
        Ok(Self {
            listen,
            metrics_listen,
            settings,
            auth,
            cache_capacity,
            cache_ttl,
            consistency_wait: Duration::from_millis(wait_ms),
            max_request_bytes,
        })
    }
}

fn parse<T: FromStr>(
    env: &HashMap<String, String>,
    variable: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    env.get(variable)
        .map(|value| {
            value
                .trim()
                .parse()
                .map_err(|error: T::Err| ConfigError::Invalid {
                    variable,
                    reason: error.to_string(),
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config = QueryConfig::from_env(HashMap::new()).unwrap();
        assert_eq!(config.listen.port(), QueryConfig::DEFAULT_PORT);
        assert_eq!(config.consistency_wait, Duration::from_secs(2));
        let env = HashMap::from([
            (
                "APP_QUERY__CONSISTENCY_WAIT_MS".to_owned(),
                "250".to_owned(),
            ),
            ("APP_QUERY__CACHE_TTL_MS".to_owned(), "50".to_owned()),
        ]);
        let config = QueryConfig::from_env(env).unwrap();
        assert_eq!(config.consistency_wait, Duration::from_millis(250));
        assert_eq!(config.cache_ttl, Duration::from_millis(50));
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (variable, value) in [
            ("APP_QUERY__CONSISTENCY_WAIT_MS", "soon"),
            ("APP_QUERY__CONSISTENCY_WAIT_MS", "60000"),
            ("APP_QUERY__LISTEN", "nowhere"),
        ] {
            let env = HashMap::from([(variable.to_owned(), value.to_owned())]);
            let error = QueryConfig::from_env(env).unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
        }
    }
}
