//! Typed settings shared by every process of the system.
//!
//! Layers, later ones win:
//! 1. defaults in code that work on a laptop (everything on 127.0.0.1);
//! 2. an optional file for the stage (`local`, `k8s`, `prod`) in the settings folder
//!    (`APP_CONFIG_DIR`, default `settings/config`), chosen by `APP_STAGE` (default `local`);
//! 3. `APP_…` environment variables, `__` between levels: `APP_DATABASE__URL`,
//!    `APP_EVENT_STORE__MAX_EVENT_BYTES`.
//!
//! The environment is passed in as a map ([`Settings::from_env`]) so that layering is tested
//! without touching the process environment. Secrets are [`SecretString`]s: `Debug` redacts them
//! and nothing here ever prints them.
#![forbid(unsafe_code)]

use std::{collections::HashMap, path::PathBuf, time::Duration};

pub use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Why settings could not be loaded. Fatal at start-up: fix the file or variable it names.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `APP_STAGE` names no known stage.
    #[error("unknown stage {0:?}: expected local, k8s or prod")]
    UnknownStage(String),
    /// A file or variable holds a value of the wrong shape.
    #[error("invalid settings: {0}")]
    Invalid(#[from] config::ConfigError),
}

/// Where a process runs; selects the optional settings file `<stage>.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Local,
    K8s,
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
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub rocketmq: RocketMqSettings,
    pub event_store: EventStoreSettings,
    pub relay: RelaySettings,
    pub projections: ProjectionSettings,
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
            stage: Some(Stage::Local),
        }
    }
}

/// PostgreSQL connection pool settings.
///
/// Every process of the system shares one server, whose `max_connections` is a budget: the pool
/// sizes per role and the arithmetic are in `docs/connection-budget.md`. A process names its role
/// in [`DatabaseSettings::application_name`]; the stage file may then give that role its own
/// values in a `[database.roles.<application_name>]` table (see [`Settings::from_env`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Full connection URL; may carry a password, hence secret.
    pub url: SecretString,
    /// The process role, sent as PostgreSQL's `application_name` so that `pg_stat_activity`
    /// counts connections per role (e.g. `commerce-command-order`, `commerce-relay`); also the
    /// key of the role's table in the stage file. Lowercase.
    pub application_name: String,
    /// Most pooled connections of one process. Dedicated connections (the append notifier, the
    /// relay's leadership lock) come on top: see `docs/connection-budget.md`.
    pub max_connections: u32,
    /// Connections a pool keeps open while idle (0 or 1: an idle process should hold little).
    pub min_connections: u32,
    /// A pooled connection idle this long is closed (down to `min_connections`); 0 keeps idle
    /// connections forever.
    pub idle_timeout_ms: u64,
    /// A pooled connection is closed when released after being open this long (spreads
    /// reconnects after a failover and bounds server-side memory growth); 0 for no limit.
    pub max_lifetime_ms: u64,
    pub acquire_timeout_ms: u64,
    /// Server-side `statement_timeout` on every pooled connection.
    pub statement_timeout_ms: u64,
    /// Server-side `idle_in_transaction_session_timeout`: a forgotten open transaction would hold
    /// back every `$all` tailer on the server (their watermark is cluster-wide), so it is bounded.
    pub idle_in_transaction_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/commerce"),
            application_name: "commerce".to_owned(),
            max_connections: 16,
            min_connections: 0,
            idle_timeout_ms: 30_000,
            max_lifetime_ms: 30 * 60_000,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
            idle_in_transaction_timeout_ms: 10_000,
        }
    }
}

impl DatabaseSettings {
    /// Longest wait for a pooled connection.
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }

    /// How long a pooled connection may stay idle before it is closed; `None` for ever.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_ms > 0).then(|| Duration::from_millis(self.idle_timeout_ms))
    }

    /// How long a pooled connection may live; `None` for ever.
    pub fn max_lifetime(&self) -> Option<Duration> {
        (self.max_lifetime_ms > 0).then(|| Duration::from_millis(self.max_lifetime_ms))
    }
}

/// Redis connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// `redis://` URL; may carry a password, hence secret.
    pub url: SecretString,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
        }
    }
}

/// RocketMQ client settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RocketMqSettings {
    /// `host:port` of the name server(s), `;`-separated.
    pub name_server: String,
    /// Events of category `c` travel on topic `<topic_prefix>-<c>` (one topic per bounded
    /// context; the tag is the event type).
    pub topic_prefix: String,
    /// Queues per event topic. Per-stream order rests on the stream → queue hash, which depends on
    /// this count: change it only with the relay stopped and the topics drained.
    pub queues: u32,
}

impl Default for RocketMqSettings {
    fn default() -> Self {
        Self {
            name_server: "127.0.0.1:9876".to_owned(),
            topic_prefix: "commerce".to_owned(),
            queues: 8,
        }
    }
}

/// Limits and tuning of the event log.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EventStoreSettings {
    /// Largest accepted event (data plus metadata, serialized JSON bytes).
    pub max_event_bytes: usize,
    /// Events fetched per `$all` tailer round trip.
    pub tail_batch_size: u32,
    /// Longest a live tailer waits without a notification before it polls anyway (a rolled-back
    /// append notifies nobody).
    pub tail_fallback_poll_ms: u64,
}

impl Default for EventStoreSettings {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            tail_batch_size: 512,
            tail_fallback_poll_ms: 250,
        }
    }
}

/// The relay: `$all` → RocketMQ.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RelaySettings {
    /// Name of the checkpoint row and of the leadership lock; relays with one name are replicas
    /// of each other (exactly one publishes).
    pub name: String,
    /// RocketMQ producer group.
    pub producer_group: String,
    /// Most events per published batch.
    pub batch_size: usize,
    /// Most body bytes per batch sent to one queue (the broker refuses more than 4 MiB).
    pub max_batch_bytes: usize,
    /// First and longest pause between retries while the broker refuses or is down.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// How often a standby replica tries to take over.
    pub standby_poll_ms: u64,
    /// `host:port` of the `/metrics` endpoint; empty for none.
    pub metrics_listen: String,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            name: "main".to_owned(),
            producer_group: "commerce-relay".to_owned(),
            batch_size: 256,
            max_batch_bytes: 2 * 1024 * 1024,
            retry_initial_ms: 100,
            retry_max_ms: 5_000,
            standby_poll_ms: 500,
            metrics_listen: "127.0.0.1:9464".to_owned(),
        }
    }
}

/// The projection workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ProjectionSettings {
    /// Consumer group of projection `p` is `<group_prefix>-<p>`.
    pub group_prefix: String,
    /// Redis keys of projection `p` start with `<redis_prefix>:<p>:`.
    pub redis_prefix: String,
    /// Tries of one event before it is parked (and its stream stopped behind it).
    pub max_attempts: u32,
    /// Pause between two tries of one event.
    pub retry_delay_ms: u64,
    /// `host:port` of the `/metrics` endpoint; empty for none.
    pub metrics_listen: String,
    /// Most messages of one queue applied in one atomic write (one transaction / one script).
    /// A batch is what the queue has ready, up to this size: no waiting to fill it.
    pub batch_size: u32,
    /// How often each read model's markers are compared with the log (and a Redis model's epoch
    /// checked), repairing what a store lost; 0 turns the check off.
    pub reconcile_interval_ms: u64,
    /// Events younger than this may still be on their way through the broker: the comparison
    /// leaves them out.
    pub reconcile_grace_ms: u64,
}

impl Default for ProjectionSettings {
    fn default() -> Self {
        Self {
            group_prefix: "commerce-projection".to_owned(),
            redis_prefix: "rm".to_owned(),
            max_attempts: 5,
            retry_delay_ms: 100,
            metrics_listen: "127.0.0.1:9465".to_owned(),
            batch_size: 64,
            reconcile_interval_ms: 30_000,
            reconcile_grace_ms: 10_000,
        }
    }
}

impl Settings {
    /// Loads settings from the process environment (and the stage file it selects).
    pub fn load() -> Result<Self, SettingsError> {
        Self::from_env(std::env::vars().collect())
    }

    /// Loads settings from the given environment map (and the stage file it selects).
    ///
    /// Between the stage file and the environment sits one more layer: the stage file's
    /// `[database.roles.<application_name>]` table, whose keys override `[database]` for the
    /// process whose `database.application_name` (usually `APP_DATABASE__APPLICATION_NAME`) names
    /// that role. So one file holds every role's pool size, and an `APP_DATABASE__…` variable
    /// still beats it.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, SettingsError> {
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
        Ok(settings)
    }

    /// The stage this process runs in.
    pub fn stage(&self) -> Stage {
        self.stage.unwrap_or(Stage::Local)
    }
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

#[cfg(test)]
mod tests {
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
}
