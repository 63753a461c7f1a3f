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
//! [`event_store`], [`relay`], [`projections`], [`auth`], [`command`], [`query`], [`http`].
//! Every section can be set by every layer; [`Settings::from_env`] checks the result once
//! ([`Settings::validate`]), so a process that starts has usable settings. Command-line flags
//! (`--listen`, the service name) are the only per-binary overrides.
//!
//! The environment is passed in as a map ([`Settings::from_env`]) so that layering is tested
//! without touching the process environment. Secrets are [`SecretString`]s: `Debug` redacts them
//! and nothing here ever prints them.
#![forbid(unsafe_code)]

pub mod auth;
pub mod command;
pub mod database;
mod error;
pub mod event_store;
pub mod http;
pub mod projections;
pub mod query;
pub mod redis;
pub mod relay;
pub mod rocketmq;

use std::{collections::HashMap, path::PathBuf};

pub use auth::{AuthSettings, DEVELOPMENT_JWT_SECRET};
pub use command::CommandSettings;
pub use database::DatabaseSettings;
pub use error::{SettingsError, variable_of};
pub use event_store::EventStoreSettings;
pub use http::HttpSettings;
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
        Ok(())
    }

    /// Refuses the built-in development JWT secret outside the `local` stage; called at start-up
    /// by every process that checks or issues bearer tokens.
    pub fn require_auth(&self) -> Result<(), SettingsError> {
        self.auth.require_for(self.stage())
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
    let authority = value
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|authority| !authority.is_empty() && !authority.contains(['/', ' ', '@']));
    let Some(authority) = authority else {
        return Err(SettingsError::rejected(
            key,
            "must be an http://host:port URL such as http://127.0.0.1:50052",
        ));
    };
    let (host, port) = authority
        .rsplit_once(':')
        .map_or((authority, None), |(host, port)| (host, Some(port)));
    if host.is_empty() || port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err(SettingsError::rejected(
            key,
            "must be an http://host:port URL such as http://127.0.0.1:50052",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn fixture_dir() -> String {
        let dir = std::env::temp_dir().join(format!("settings-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("k8s.toml"),
            "[database]\nmax_connections = 40\n[rocketmq]\nname_server = \"rocketmq-namesrv:9876\"\n",
        )
        .unwrap();
        dir.to_string_lossy().into_owned()
    }

    #[test]
    fn defaults_work_locally_without_any_file_or_variable() {
        let s = Settings::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
        assert_eq!(s.stage(), Stage::Local);
        assert_eq!(s.rocketmq.name_server, "127.0.0.1:9876");
        assert_eq!(s.event_store.max_event_bytes, 1024 * 1024);
        assert!(s.database.url.expose_secret().contains("127.0.0.1"));
    }

    #[test]
    fn stage_file_overrides_defaults_and_environment_overrides_the_file() {
        let dir = fixture_dir();
        let s = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", &dir),
            ("APP_STAGE", "k8s"),
            ("APP_DATABASE__MAX_CONNECTIONS", "7"),
            ("APP_EVENT_STORE__MAX_EVENT_BYTES", "2048"),
        ]))
        .unwrap();
        assert_eq!(s.stage(), Stage::K8s);
        assert_eq!(
            s.rocketmq.name_server, "rocketmq-namesrv:9876",
            "from the file"
        );
        assert_eq!(s.database.max_connections, 7, "environment beats the file");
        assert_eq!(s.event_store.max_event_bytes, 2048);
        assert_eq!(s.database.statement_timeout_ms, 30_000, "default kept");
    }

    fn fixture_dir_with_roles() -> String {
        let dir = std::env::temp_dir().join(format!("settings-roles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("prod.toml"),
            "[database]\nmax_connections = 12\nidle_timeout_ms = 45000\nmin_connections = 1\n\
             [database.roles.commerce-relay]\nmax_connections = 3\n\
             [database.roles.commerce-command-order]\nmax_connections = 5\nmax_lifetime_ms = 60000\n",
        )
        .unwrap();
        dir.to_string_lossy().into_owned()
    }

    #[test]
    fn pools_default_to_shrinking_when_idle_and_to_a_generic_application_name() {
        let s = Settings::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
        let db = &s.database;
        assert_eq!(db.application_name, "commerce");
        assert_eq!(db.max_connections, 16);
        assert_eq!(db.min_connections, 0);
        assert_eq!(db.idle_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(db.max_lifetime(), Some(Duration::from_secs(30 * 60)));
    }

    #[test]
    fn pool_settings_layer_defaults_then_stage_file_then_environment() {
        let dir = fixture_dir_with_roles();
        let s = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", &dir),
            ("APP_STAGE", "prod"),
            ("APP_DATABASE__MAX_LIFETIME_MS", "0"),
            ("APP_DATABASE__APPLICATION_NAME", "commerce-query"),
        ]))
        .unwrap();
        let db = &s.database;
        assert_eq!(
            db.application_name, "commerce-query",
            "from the environment"
        );
        assert_eq!(
            db.max_connections, 12,
            "from the file: the role has no table"
        );
        assert_eq!(db.min_connections, 1, "from the file");
        assert_eq!(
            db.idle_timeout(),
            Some(Duration::from_secs(45)),
            "from the file"
        );
        assert_eq!(db.max_lifetime(), None, "0 from the environment: no limit");
        assert_eq!(db.acquire_timeout_ms, 5_000, "default kept");
    }

    #[test]
    fn role_table_of_the_stage_file_applies_to_that_role_only() {
        let dir = fixture_dir_with_roles();
        let settings_of = |role: &str| {
            Settings::from_env(env(&[
                ("APP_CONFIG_DIR", &dir),
                ("APP_STAGE", "prod"),
                ("APP_DATABASE__APPLICATION_NAME", role),
            ]))
            .unwrap()
            .database
        };
        let relay = settings_of("commerce-relay");
        assert_eq!(
            relay.max_connections, 3,
            "the role's table beats [database]"
        );
        assert_eq!(
            relay.idle_timeout_ms, 45_000,
            "[database] kept where the role is silent"
        );
        let order = settings_of("commerce-command-order");
        assert_eq!(order.max_connections, 5);
        assert_eq!(order.max_lifetime(), Some(Duration::from_secs(60)));
        assert_eq!(settings_of("commerce-projections").max_connections, 12);
    }

    #[test]
    fn environment_beats_the_role_table() {
        let dir = fixture_dir_with_roles();
        let s = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", &dir),
            ("APP_STAGE", "prod"),
            ("APP_DATABASE__APPLICATION_NAME", "commerce-relay"),
            ("APP_DATABASE__MAX_CONNECTIONS", "2"),
        ]))
        .unwrap();
        assert_eq!(s.database.max_connections, 2);
    }

    #[test]
    fn local_stage_file_gives_each_role_its_own_pool() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
        let pool_of = |role: &str| {
            Settings::from_env(env(&[
                ("APP_CONFIG_DIR", dir),
                ("APP_DATABASE__APPLICATION_NAME", role),
            ]))
            .unwrap()
            .database
            .max_connections
        };
        assert_eq!(pool_of("commerce-command-order"), 5);
        assert_eq!(pool_of("commerce-relay"), 3);
        assert_eq!(pool_of("commerce-query"), 8);
        assert_eq!(pool_of("commerce"), 16, "no role: the generic pool");
    }

    #[test]
    fn unknown_stage_is_rejected() {
        let err = Settings::from_env(env(&[("APP_STAGE", "staging")])).unwrap_err();
        assert!(matches!(err, SettingsError::UnknownStage(s) if s == "staging"));
    }

    #[test]
    fn malformed_value_is_a_clear_error() {
        let err = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_DATABASE__MAX_CONNECTIONS", "many"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("max_connections"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_DATABASE__URL", "postgres://svc:hunter2@db/commerce"),
            ("APP_REDIS__URL", "redis://:s3cret@cache"),
        ]))
        .unwrap();
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("s3cret"),
            "{printed}"
        );
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://svc:hunter2@db/commerce"
        );
    }
    /// One setting of every section, with the value each layer gives it.
    const ONE_PER_SECTION: [(&str, &str, &str); 10] = [
        ("database.statement_timeout_ms", "31000", "32000"),
        ("redis.url", "redis://file:6379", "redis://env:6379"),
        ("rocketmq.queues", "12", "16"),
        ("event_store.tail_batch_size", "100", "200"),
        ("relay.batch_size", "300", "400"),
        ("projections.batch_size", "32", "16"),
        ("auth.issuer", "file-issuer", "env-issuer"),
        ("command.max_attempts", "7", "9"),
        ("query.cache_ttl_ms", "1500", "2500"),
        ("http.query_timeout_ms", "6000", "7000"),
    ];

    fn value_of(s: &Settings, key: &str) -> String {
        match key {
            "database.statement_timeout_ms" => s.database.statement_timeout_ms.to_string(),
            "redis.url" => s.redis.url.expose_secret().to_owned(),
            "rocketmq.queues" => s.rocketmq.queues.to_string(),
            "event_store.tail_batch_size" => s.event_store.tail_batch_size.to_string(),
            "relay.batch_size" => s.relay.batch_size.to_string(),
            "projections.batch_size" => s.projections.batch_size.to_string(),
            "auth.issuer" => s.auth.issuer.clone(),
            "command.max_attempts" => s.command.max_attempts.to_string(),
            "query.cache_ttl_ms" => s.query.cache_ttl_ms.to_string(),
            "http.query_timeout_ms" => s.http.query_timeout_ms.to_string(),
            other => panic!("no accessor for {other}"),
        }
    }

    #[test]
    fn every_section_is_set_by_the_default_then_the_stage_file_then_the_environment() {
        let dir = std::env::temp_dir().join(format!("settings-sections-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = String::new();
        for (key, from_file, _) in ONE_PER_SECTION {
            let (section, name) = key.split_once('.').unwrap();
            let value = if from_file.parse::<u64>().is_ok() {
                from_file.to_owned()
            } else {
                format!("{from_file:?}")
            };
            file.push_str(&format!("[{section}]\n{name} = {value}\n"));
        }
        std::fs::write(dir.join("local.toml"), file).unwrap();
        let dir = dir.to_string_lossy().into_owned();
        let defaults = Settings::default();
        let without_file = Settings::from_env(env(&[("APP_CONFIG_DIR", "/nonexistent")])).unwrap();
        let with_file = Settings::from_env(env(&[("APP_CONFIG_DIR", &dir)])).unwrap();
        for (key, from_file, from_env) in ONE_PER_SECTION {
            assert_eq!(
                value_of(&without_file, key),
                value_of(&defaults, key),
                "{key}: the default"
            );
            assert_ne!(value_of(&defaults, key), from_file, "{key}: a real change");
            assert_eq!(value_of(&with_file, key), from_file, "{key}: the file");
            let variable = variable_of(key);
            let with_env = Settings::from_env(env(&[
                ("APP_CONFIG_DIR", &dir),
                (variable.as_str(), from_env),
            ]))
            .unwrap();
            assert_eq!(
                value_of(&with_env, key),
                from_env,
                "{variable} beats the file"
            );
        }
    }

    #[test]
    fn the_repositorys_stage_files_load_and_validate() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
        for stage in ["local", "k8s", "prod"] {
            let settings = Settings::from_env(env(&[
                ("APP_CONFIG_DIR", dir),
                ("APP_STAGE", stage),
                (
                    "APP_AUTH__JWT_SECRET",
                    "a-very-long-production-secret-of-forty-bytes",
                ),
            ]));
            assert!(settings.is_ok(), "{stage}: {settings:?}");
        }
    }

    #[test]
    fn a_secret_may_come_from_a_file_named_by_the_variable_with_file_appended() {
        let dir = std::env::temp_dir().join(format!("settings-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("database-url");
        std::fs::write(&path, "postgres://svc:from-a-file@db/commerce\n").unwrap();
        let path = path.to_string_lossy().into_owned();
        let s = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_DATABASE__URL_FILE", &path),
        ]))
        .unwrap();
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://svc:from-a-file@db/commerce",
            "one trailing newline trimmed"
        );
        assert!(!format!("{s:?}").contains("from-a-file"));

        let both = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_DATABASE__URL_FILE", &path),
            ("APP_DATABASE__URL", "postgres://other"),
        ]))
        .unwrap_err();
        assert!(
            both.to_string().contains("APP_DATABASE__URL_FILE"),
            "{both}"
        );
        let missing = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_AUTH__JWT_SECRET_FILE", "/nonexistent/jwt-secret"),
        ]))
        .unwrap_err();
        assert!(
            missing.to_string().contains("APP_AUTH__JWT_SECRET_FILE"),
            "{missing}"
        );
    }

    #[test]
    fn the_jwt_secret_is_long_and_not_the_development_one_outside_the_local_stage() {
        let secret = "a-very-long-production-secret-of-forty-bytes";
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![("APP_CONFIG_DIR", "/nonexistent")];
            all.extend_from_slice(pairs);
            Settings::from_env(env(&all)).and_then(|s| s.require_auth().map(|()| s))
        };
        assert!(with(&[("APP_AUTH__JWT_SECRET", secret)]).is_ok());
        assert!(with(&[("APP_STAGE", "prod"), ("APP_AUTH__JWT_SECRET", secret)]).is_ok());
        for error in [
            with(&[("APP_STAGE", "prod")]).unwrap_err(),
            with(&[("APP_AUTH__JWT_SECRET", "short")]).unwrap_err(),
        ] {
            assert!(
                error.to_string().contains("APP_AUTH__JWT_SECRET"),
                "{error}"
            );
        }
        assert!(with(&[]).unwrap().auth.uses_development_secret());
    }

    #[test]
    fn refused_and_malformed_values_name_their_variable() {
        for (variable, value) in [
            ("APP_COMMAND__LISTEN", "not an address"),
            ("APP_COMMAND__PRODUCT_ENDPOINT", "product:50052"),
            ("APP_COMMAND__PRODUCT_ENDPOINT", "ftp://product"),
            ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "0"),
            ("APP_COMMAND__DEPENDENCY_TIMEOUT_MS", "soon"),
            ("APP_QUERY__CONSISTENCY_WAIT_MS", "soon"),
            ("APP_QUERY__CONSISTENCY_WAIT_MS", "60000"),
            ("APP_QUERY__LISTEN", "nowhere"),
            ("APP_HTTP__LISTEN", "not an address"),
            ("APP_HTTP__QUERY_ENDPOINT", "query:50060"),
            ("APP_HTTP__QUERY_TIMEOUT_MS", "2000"),
            ("APP_RELAY__BATCH_SIZE", "many"),
        ] {
            let error = Settings::from_env(env(&[
                ("APP_CONFIG_DIR", "/nonexistent"),
                (variable, value),
            ]))
            .unwrap_err();
            assert!(error.to_string().contains(variable), "{value}: {error}");
        }
    }

    #[test]
    fn endpoints_are_http_urls_with_a_host() {
        for good in [
            "http://127.0.0.1:50052",
            "http://product:50052",
            "http://query",
        ] {
            assert!(http_endpoint("http.query_endpoint", good).is_ok(), "{good}");
        }
        for bad in [
            "product:50052",
            "https://product:1",
            "http://",
            "http://:50052",
            "http://host:port",
            "http://a b:1",
        ] {
            assert!(http_endpoint("http.query_endpoint", bad).is_err(), "{bad}");
        }
    }

    /// Every `APP_…` variable of the settings, from their serialized form.
    fn every_variable() -> std::collections::BTreeSet<String> {
        fn walk(
            prefix: &str,
            value: &serde_json::Value,
            out: &mut std::collections::BTreeSet<String>,
        ) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, value) in map {
                        let key = if prefix.is_empty() {
                            key.clone()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        walk(&key, value, out);
                    }
                }
                _ => {
                    out.insert(variable_of(prefix));
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        walk(
            "",
            &serde_json::to_value(Settings::default()).unwrap(),
            &mut out,
        );
        out
    }

    #[test]
    fn the_readme_tables_every_variable_and_no_other() {
        let readme = include_str!("../../README.md");
        let start = readme.find("\n## Settings").expect("a Settings section");
        let section = &readme[start..];
        let section = &section[..section[1..]
            .find("\n## ")
            .map_or(section.len(), |end| end + 1)];
        let tabled: std::collections::BTreeSet<String> = section
            .lines()
            .filter_map(|line| line.strip_prefix("| `APP_"))
            .filter_map(|rest| rest.split_once('`'))
            .map(|(name, _)| format!("APP_{name}"))
            .collect();
        let expected = every_variable();
        let missing: Vec<_> = expected.difference(&tabled).collect();
        let unknown: Vec<_> = tabled.difference(&expected).collect();
        assert!(
            missing.is_empty(),
            "README's settings table lacks {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "README's settings table names unknown {unknown:?}"
        );
    }

    #[test]
    fn secrets_serialize_redacted() {
        let s = Settings::from_env(env(&[
            ("APP_CONFIG_DIR", "/nonexistent"),
            ("APP_DATABASE__URL", "postgres://svc:hunter2@db/commerce"),
        ]))
        .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            !json.contains("hunter2") && !json.contains(DEVELOPMENT_JWT_SECRET),
            "{json}"
        );
    }
}
