//! Why settings could not be loaded, naming the `APP_…` variable to fix.

/// Why settings could not be loaded. Fatal at start-up: fix the file or variable it names.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `APP_STAGE` names no known stage.
    #[error("unknown stage {0:?}: expected local, k8s or prod")]
    UnknownStage(String),
    /// A file or variable holds a value of the wrong shape.
    #[error("invalid {}: {error}", variable_hint(.error))]
    Invalid {
        /// The parser's account, with the key it stumbled on.
        #[from]
        error: config::ConfigError,
    },
    /// A value has the right shape but is refused (out of range, not a URL, a missing secret…).
    #[error("invalid {variable}: {reason}")]
    Rejected {
        /// The variable that sets it (`APP_SECTION__KEY`); a stage file's `[section] key` is the
        /// same setting.
        variable: String,
        /// What is wrong.
        reason: String,
    },
}

impl SettingsError {
    /// A refusal of the setting at `key` (`section.key`).
    pub(crate) fn rejected(key: &str, reason: impl Into<String>) -> Self {
        Self::Rejected {
            variable: variable_of(key),
            reason: reason.into(),
        }
    }

    /// A refusal of an environment variable by name.
    pub(crate) fn variable(variable: &str, reason: impl Into<String>) -> Self {
        Self::Rejected {
            variable: variable.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The environment variable of a settings key: `query.cache_ttl_ms` → `APP_QUERY__CACHE_TTL_MS`.
pub fn variable_of(key: &str) -> String {
    format!("APP_{}", key.to_uppercase().replace('.', "__"))
}

/// `APP_X (x)` for an error that names its key, `settings` otherwise.
fn variable_hint(error: &config::ConfigError) -> String {
    let (config::ConfigError::Type { key: Some(key), .. }
    | config::ConfigError::At { key: Some(key), .. }) = error
    else {
        return "settings".to_owned();
    };
    format!("{} ({key})", variable_of(key))
}
