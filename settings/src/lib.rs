//! Typed settings shared by every process of the system: the one configuration mechanism
//! (`docs/settings.md`).
//!
//! Layers, later ones win:
//! 1. defaults in code that work on a laptop (everything on 127.0.0.1);
//! 2. an optional file for the stage (`local`, `k8s`, `prod`) in the settings folder
//!    (`APP_CONFIG_DIR`, default `settings/config`), chosen by `APP_STAGE` (default `local`);
//!    its `[database.roles.<application_name>]` table applies to that role only;
//! 3. `APP_…` environment variables, `__` between levels: `APP_DATABASE__URL`,
//!    `APP_EVENT_STORE__MAX_EVENT_BYTES`. A secret may come from a mounted file instead:
//!    `APP_DATABASE__URL_FILE=/run/secrets/db-url` (one trailing newline trimmed; setting both
//!    `APP_X` and `APP_X_FILE` is an error).
//!
//! One section per concern, one file each: [`database`], [`redis`], [`rocketmq`],
//! [`event_store`], [`relay`], [`projections`], [`auth`], [`command`], [`query`], [`http`],
//! [`checkout`], [`payments`].
//! Every section can be set by every layer; [`Settings::from_env`] checks the result once
//! ([`Settings::validate`]), so a process that starts has usable settings. Command-line flags
//! (`--listen`, the service name) are the only per-binary overrides.
//!
//! The environment is passed in as a map ([`Settings::from_env`]) so that layering is tested
//! without touching the process environment. Secrets are [`SecretString`]s: `Debug` redacts them
//! and nothing here ever prints them.
#![forbid(unsafe_code)]

pub mod auth;
pub mod checkout;
pub mod command;
pub mod database;
mod error;
pub mod event_store;
pub mod http;
pub mod payments;
pub mod projections;
pub mod query;
pub mod redis;
pub mod relay;
pub mod rocketmq;

use std::{collections::HashMap, path::PathBuf};

pub use auth::{AuthSettings, DEVELOPMENT_JWT_SECRET};
pub use checkout::CheckoutSettings;
pub use command::CommandSettings;
pub use database::{DatabaseSettings, SslMode};
pub use error::{SettingsError, variable_of};
pub use event_store::EventStoreSettings;
pub use http::HttpSettings;
pub use payments::{DEVELOPMENT_WEBHOOK_SECRET, PaymentSettings};
pub use projections::ProjectionSettings;
pub use query::QuerySettings;
pub use redis::RedisSettings;
pub use relay::RelaySettings;
pub use rocketmq::RocketMqSettings;
pub use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Where a process runs; selects the optional settings file `<stage>.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A laptop or CI machine (`scripts/`): the development JWT secret is accepted.
    Local,
    /// A Kubernetes cluster of our own manifests (`infra/k8s`).
    K8s,
    /// Production: managed PostgreSQL and Redis.
    Prod,
}

impl Stage {
    fn parse(name: &str) -> Result<Self, SettingsError> {
        match name {
            "local" => Ok(Self::Local),
            "k8s" => Ok(Self::K8s),
            "prod" => Ok(Self::Prod),
            other => Err(SettingsError::UnknownStage(other.to_owned())),
        }
    }

    /// The stage's name, also the stem of its settings file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::K8s => "k8s",
            Self::Prod => "prod",
        }
    }
}

/// Everything a process may need; each process reads the parts it uses.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    /// `[database]`: the PostgreSQL pool.
    pub database: DatabaseSettings,
    /// `[redis]`: the Redis of the Redis read models.
    pub redis: RedisSettings,
    /// `[rocketmq]`: the broker.
    pub rocketmq: RocketMqSettings,
    /// `[event_store]`: limits of the event log.
    pub event_store: EventStoreSettings,
    /// `[relay]`: the relay process.
    pub relay: RelaySettings,
    /// `[projections]`: the projection workers.
    pub projections: ProjectionSettings,
    /// `[auth]`: bearer-token checking.
    pub auth: AuthSettings,
    /// `[command]`: the command services.
    pub command: CommandSettings,
    /// `[query]`: the query services.
    pub query: QuerySettings,
    /// `[http]`: the HTTP read API.
    pub http: HttpSettings,
    /// `[checkout]`: the checkout process manager.
    pub checkout: CheckoutSettings,
    /// `[payments]`: the external payment provider and its callbacks.
    pub payments: PaymentSettings,
    /// Filled from `APP_STAGE`, not from files.
    #[serde(skip)]
    pub stage: Option<Stage>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::default(),
            redis: RedisSettings::default(),
            rocketmq: RocketMqSettings::default(),
            event_store: EventStoreSettings::default(),
            relay: RelaySettings::default(),
            projections: ProjectionSettings::default(),
            auth: AuthSettings::default(),
            command: CommandSettings::default(),
            query: QuerySettings::default(),
            http: HttpSettings::default(),
            checkout: CheckoutSettings::default(),
            payments: PaymentSettings::default(),
            stage: Some(Stage::Local),
        }
    }
}

impl Settings {
    /// Loads settings from the process environment (and the stage file it selects).
    pub fn load() -> Result<Self, SettingsError> {
        Self::from_env(std::env::vars().collect())
    }

    /// Loads settings from the given environment map (and the stage file it selects), then
    /// [validates](Self::validate) them.
    ///
    /// Between the stage file and the environment sits one more layer: the stage file's
    /// `[database.roles.<application_name>]` table, whose keys override `[database]` for the
    /// process whose `database.application_name` (usually `APP_DATABASE__APPLICATION_NAME`) names
    /// that role. So one file holds every role's pool size, and an `APP_DATABASE__…` variable
    /// still beats it.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, SettingsError> {
        let env = read_secret_files(env)?;
        let stage = Stage::parse(env.get("APP_STAGE").map_or("local", String::as_str))?;
        let dir = env
            .get("APP_CONFIG_DIR")
            .map_or_else(|| PathBuf::from("settings/config"), PathBuf::from);
        // APP_STAGE and APP_CONFIG_DIR select the layers; they are not settings themselves.
        let overrides: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("APP_") && k != "APP_STAGE" && k != "APP_CONFIG_DIR")
            .collect();
        let file =
            config::File::with_name(&dir.join(stage.name()).to_string_lossy()).required(false);
        let environment = config::Environment::with_prefix("APP")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(Some(overrides));
        let without_role = config::Config::builder()
            .add_source(file.clone())
            .add_source(environment.clone())
            .build()?;
        let layered = config::Config::builder()
            .add_source(file)
            .add_source(role_layer(&without_role)?)
            .add_source(environment)
            .build()?;
        let mut settings: Settings = layered.try_deserialize()?;
        settings.stage = Some(stage);
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what a type cannot: ranges, URLs, secrets a stage requires, settings that must
    /// agree with each other. The error names the variable to fix.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.auth.validate()?;
        self.command.validate()?;
        self.query.validate()?;
        self.http.validate(&self.query)?;
        self.checkout.validate()?;
        self.payments.validate()?;
        Ok(())
    }

    /// Refuses the built-in development JWT secret outside the `local` stage; called at start-up
    /// by every process that checks or issues bearer tokens.
    pub fn require_auth(&self) -> Result<(), SettingsError> {
        self.auth.require_for(self.stage())
    }

    /// Refuses the built-in development webhook secret outside the `local` stage; called at
    /// start-up by every process that signs or checks payment callbacks.
    pub fn require_payments(&self) -> Result<(), SettingsError> {
        self.payments.require_for(self.stage())
    }

    /// The stage this process runs in.
    pub fn stage(&self) -> Stage {
        self.stage.unwrap_or(Stage::Local)
    }
}

/// Serializes a secret as `[redacted]`: settings are serialized only to list their keys.
fn redacted<S: serde::Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("[redacted]")
}

/// Replaces every `APP_X_FILE=<path>` by `APP_X=<the file's contents>` (one trailing newline
/// trimmed), so a secret mounted as a file never passes through the environment.
fn read_secret_files(
    mut env: HashMap<String, String>,
) -> Result<HashMap<String, String>, SettingsError> {
    let files: Vec<(String, String)> = env
        .iter()
        .filter(|(name, _)| name.starts_with("APP_") && name.ends_with("_FILE"))
        .map(|(name, path)| (name.clone(), path.clone()))
        .collect();
    for (name, path) in files {
        let target = name.trim_end_matches("_FILE").to_owned();
        if env.contains_key(&target) {
            return Err(SettingsError::variable(
                &name,
                format!("set only one of {target} and {name}"),
            ));
        }
        let contents = std::fs::read_to_string(&path).map_err(|error| {
            SettingsError::variable(&name, format!("cannot read {path}: {error}"))
        })?;
        let value = contents
            .strip_suffix('\n')
            .map_or(contents.as_str(), |value| {
                value.strip_suffix('\r').unwrap_or(value)
            });
        env.remove(&name);
        env.insert(target, value.to_owned());
    }
    Ok(env)
}

/// The `[database.roles.<application_name>]` table of `layered`, as `database.*` keys (empty
/// when the process names no role or its role has no table).
fn role_layer(layered: &config::Config) -> Result<config::Config, SettingsError> {
    let name = layered
        .get_string("database.application_name")
        .unwrap_or_else(|_| DatabaseSettings::default().application_name);
    let mut role = config::Config::builder();
    let roles = layered
        .get_table("database.roles")
        .unwrap_or_default()
        .remove(&name);
    if let Some(table) = roles {
        for (key, value) in table.into_table()? {
            role = role.set_default(format!("database.{key}"), value)?;
        }
    }
    Ok(role.build()?)
}

/// Checks that the setting at `key` is an `http://host[:port]` URL, so a typo fails at start-up,
/// not on the first call.
fn http_endpoint(key: &str, value: &str) -> Result<(), SettingsError> {
    let valid = value
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|authority| !authority.is_empty() && !authority.contains(['/', ' ', '@']))
        .is_some_and(|authority| {
            let (host, port) = authority
                .rsplit_once(':')
                .map_or((authority, None), |(host, port)| (host, Some(port)));
            !host.is_empty() && port.is_none_or(|port| port.parse::<u16>().is_ok())
        });
    if valid {
        Ok(())
    } else {
        Err(SettingsError::rejected(
            key,
            "must be an http://host:port URL such as http://127.0.0.1:50052",
        ))
    }
}

#[cfg(test)]
mod tests;
