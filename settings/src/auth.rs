//! `[auth]`: how bearer tokens are checked by every process that checks them (`APP_AUTH__…`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{SettingsError, Stage};

/// The built-in development JWT secret, used when none is configured; refused outside the
/// `local` stage.
pub const DEVELOPMENT_JWT_SECRET: &str =
    "commerce-local-development-secret-do-not-use-in-production";

/// How bearer tokens are checked: HS256 with a shared secret, a fixed issuer, `exp` required.
/// The `auth` crate applies it (there it is named `AuthConfig`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthSettings {
    /// The HMAC secret (at least 32 bytes); never printed. Mount it as a file in a cluster:
    /// `APP_AUTH__JWT_SECRET_FILE`.
    #[serde(serialize_with = "crate::redacted")]
    pub jwt_secret: SecretString,
    /// Required `iss` claim.
    pub issuer: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self::development()
    }
}

impl AuthSettings {
    /// The development configuration (the built-in secret, issuer `commerce`); for tests and
    /// local runs.
    pub fn development() -> Self {
        Self {
            jwt_secret: SecretString::from(DEVELOPMENT_JWT_SECRET),
            issuer: "commerce".to_owned(),
        }
    }

    /// Whether the secret is the built-in development one.
    pub fn uses_development_secret(&self) -> bool {
        self.jwt_secret.expose_secret() == DEVELOPMENT_JWT_SECRET
    }

    /// A secret has at least 32 bytes.
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.jwt_secret.expose_secret().len() < 32 {
            return Err(SettingsError::rejected(
                "auth.jwt_secret",
                "must be at least 32 bytes",
            ));
        }
        Ok(())
    }

    /// The development secret only serves the `local` stage: a process that checks or issues
    /// tokens calls this (through [`crate::Settings::require_auth`]) at start-up. Processes that
    /// never see a token (the relay, the projections, the migrations) do not need a secret.
    pub(crate) fn require_for(&self, stage: Stage) -> Result<(), SettingsError> {
        if stage != Stage::Local && self.uses_development_secret() {
            return Err(SettingsError::rejected(
                "auth.jwt_secret",
                format!(
                    "must be set outside the local stage (stage is {})",
                    stage.name()
                ),
            ));
        }
        Ok(())
    }
}
