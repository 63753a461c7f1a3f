//! What the query services' `App::build` needs, derived from the shared [`Settings`]
//! (`[query]`, `[auth]`, `[database]`, `[redis]`, `[projections]` — the settings crate documents
//! every variable); `--listen` is the command line's part.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use auth::AuthConfig;
use settings::{Settings, SettingsError};

/// Everything `App::build` needs.
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
    /// The port the query services listen on unless told otherwise.
    pub const DEFAULT_PORT: u16 = settings::QuerySettings::DEFAULT_PORT;

    /// Loads the configuration from the process environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::from_settings(Settings::load()?)
    }

    /// Loads the configuration from an environment map.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, SettingsError> {
        Self::from_settings(Settings::from_env(env)?)
    }

    /// The configuration under `settings`; refuses the development JWT secret outside the
    /// `local` stage.
    pub fn from_settings(settings: Settings) -> Result<Self, SettingsError> {
        settings.require_auth()?;
        let query = &settings.query;
        Ok(Self {
            listen: query.listen,
            metrics_listen: Some(query.metrics_listen.clone()).filter(|listen| !listen.is_empty()),
            auth: settings.auth.clone(),
            cache_capacity: query.cache_capacity,
            cache_ttl: Duration::from_millis(query.cache_ttl_ms),
            consistency_wait: query.consistency_wait(),
            max_request_bytes: query.max_request_bytes,
            settings,
        })
    }
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
