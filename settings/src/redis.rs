//! `[redis]`: the Redis the Redis read models live in (`APP_REDIS__…`).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Redis connection settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RedisSettings {
    /// `redis://` URL; may carry a password, hence secret.
    #[serde(serialize_with = "crate::redacted")]
    pub url: SecretString,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
        }
    }
}
