//! The event log: an EventStore-compatible store of events in one PostgreSQL table, the source
//! of truth of the whole system.
//!
//! - Streams are named `<category>-<id>` ([`StreamId`]); versions start at 0; every event also has
//!   a global position.
//! - [`EventStore::append`] checks an [`ExpectedVersion`] (Any, NoStream, StreamExists, Exact)
//!   and is idempotent on event ids: a retried append returns the original result and writes
//!   nothing, however late the retry comes (invariants in `append.rs`).
//! - Reads: one stream forward or backward, a category, and `$all`.
//! - [`EventStore::subscribe_all`] follows `$all` gap-safely: it never skips an event whose
//!   transaction took a lower position but committed later, and never stalls behind a rolled-back
//!   append (invariant in `subscription.rs`).
//!
//! The schema lives in the workspace's `migrations/` folder and is applied with [`MIGRATOR`].
#![forbid(unsafe_code)]

mod append;
mod audit_rows;
mod error;
mod event;
mod notify;
mod read;
pub mod roles;
mod stream_id;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;
mod version;

use std::{sync::Arc, time::Duration};

use settings::{DatabaseSettings, EventStoreSettings, ExposeSecret, SslMode};
use sqlx::{
    ConnectOptions, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

pub use append::{AppendResult, MAX_BATCH_EVENTS};
pub use audit_rows::{EVENT_COLUMNS, decode_event_row};
pub use error::{StoreError, is_transient};
pub use event::{EventMetadata, NewEvent, RecordedEvent};
pub use notify::CHANNEL as NOTIFY_CHANNEL;
pub use read::{AllSlice, Direction, ExecutedCommand, read_stream_range};
pub use stream_id::{InvalidStreamId, MAX_STREAM_ID_LEN, StreamId, validate_category};
pub use subscription::{Subscription, TailStatus};
pub use version::{AllPosition, CurrentVersion, ExpectedVersion};

/// The workspace's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connection options for `settings`, with server-side timeouts that keep a stuck statement or a
/// forgotten open transaction from holding back `$all` tailers for long, and the process role as
/// `application_name` so that `pg_stat_activity` counts connections per role
/// (`docs/connection-budget.md`). Dedicated connections (the append notifier, the relay's
/// leadership lock) are built from these options too, so they carry the role's name.
pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, sqlx::Error> {
    let mut options: PgConnectOptions = settings.url.expose_secret().parse()?;
    if let Some(mode) = settings.ssl_mode {
        options = options.ssl_mode(ssl_mode(mode));
    }
    Ok(options
        .application_name(&settings.application_name)
        .options([
            (
                "statement_timeout",
                settings.statement_timeout_ms.to_string(),
            ),
            (
                "idle_in_transaction_session_timeout",
                settings.idle_in_transaction_timeout_ms.to_string(),
            ),
            ("plan_cache_mode", "force_generic_plan".to_owned()),
        ])
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1)))
}

/// sqlx's form of a TLS mode.
fn ssl_mode(mode: SslMode) -> PgSslMode {
    match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow => PgSslMode::Allow,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        SslMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

/// Pool options for `settings`: at most `max_connections`, shrinking to `min_connections` after
/// `idle_timeout_ms` idle, each connection retired after `max_lifetime_ms`. Every pool of the
/// system is built from these, so each fits the connection budget (`docs/connection-budget.md`).
pub fn pool_options(settings: &DatabaseSettings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections.min(settings.max_connections))
        .idle_timeout(settings.idle_timeout())
        .max_lifetime(settings.max_lifetime())
        .acquire_timeout(settings.acquire_timeout())
}

/// A connection pool for `settings` (connects lazily on first use).
pub fn connect_lazy(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    Ok(pool_options(settings).connect_lazy_with(connect_options(settings)?))
}

/// Handle to the event log. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    settings: EventStoreSettings,
    notifier: notify::Notifier,
}

impl EventStore {
    /// A store over `pool`. Spawns the append notifier, so it must be called inside a Tokio
    /// runtime.
    pub fn new(pool: PgPool, settings: EventStoreSettings) -> Self {
        let notifier = notify::Notifier::spawn((*pool.connect_options()).clone());
        Self {
            inner: Arc::new(Inner {
                pool,
                settings,
                notifier,
            }),
        }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    fn notifier(&self) -> &notify::Notifier {
        &self.inner.notifier
    }

    fn max_event_bytes(&self) -> usize {
        self.inner.settings.max_event_bytes
    }

    fn tail_batch_size(&self) -> usize {
        self.inner.settings.tail_batch_size.max(1) as usize
    }

    fn tail_fallback_poll(&self) -> Duration {
        Duration::from_millis(self.inner.settings.tail_fallback_poll_ms.max(1))
    }
}
