//! `[database]`: the PostgreSQL pool every process opens (`APP_DATABASE__…`).

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// PostgreSQL connection pool settings.
///
/// Every process of the system shares one server, whose `max_connections` is a budget: the pool
/// sizes per role and the arithmetic are in `docs/connection-budget.md`. A process names its role
/// in [`DatabaseSettings::application_name`]; the stage file may then give that role its own
/// values in a `[database.roles.<application_name>]` table (see [`crate::Settings::from_env`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Full connection URL; may carry a password, hence secret.
    #[serde(serialize_with = "crate::redacted")]
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
    /// Longest wait for a free pooled connection before giving up with a pool timeout.
    pub acquire_timeout_ms: u64,
    /// Server-side `statement_timeout` on every pooled connection.
    pub statement_timeout_ms: u64,
    /// Server-side `idle_in_transaction_session_timeout`: a forgotten open transaction would hold
    /// back every `$all` tailer on the server (their watermark is cluster-wide), so it is bounded.
    pub idle_in_transaction_timeout_ms: u64,
    /// TLS to the server: `disable`, `prefer` (the default: TLS when the server offers it),
    /// `require`, `verify-ca` or `verify-full`. Overrides an `sslmode` in the URL; the `prod`
    /// stage requires TLS. A private CA goes in the URL as `sslrootcert=<path>`.
    pub ssl_mode: Option<SslMode>,
    /// Passwords of the services' login roles (`commerce_<role>_login`), by role: `cart`,
    /// `relay`, … (`APP_DATABASE__LOGINS__CART`, or `…_FILE` naming a mounted secret). Read only
    /// by `commerce-migrate`, which creates or updates each login it is given
    /// (`docs/database-roles.md`); every service has its own URL instead.
    #[serde(serialize_with = "redacted_values")]
    pub logins: BTreeMap<String, SecretString>,
}

/// TLS modes of a PostgreSQL connection (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS only if the server insists.
    Allow,
    /// TLS when the server offers it.
    Prefer,
    /// TLS always; the certificate is not checked.
    Require,
    /// TLS always, with a certificate signed by a trusted CA.
    VerifyCa,
    /// As `verify-ca`, and the certificate names the host.
    VerifyFull,
}

/// Serializes a map of secrets with its keys and `[redacted]` values.
fn redacted_values<S: serde::Serializer>(
    map: &BTreeMap<String, SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.keys().map(|key| (key, "[redacted]")))
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
            ssl_mode: None,
            logins: BTreeMap::new(),
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
