//! Exactly one active relay per name: a session-level PostgreSQL advisory lock held on a
//! dedicated connection (not from the pool, so the lock lives exactly as long as that session).
//!
//! If the lock's connection dies, PostgreSQL releases the lock and a standby takes it. The
//! leader therefore pings its connection every [`LOCK_CHECK_INTERVAL`] (each ping bounded by
//! [`PING_TIMEOUT`]) and stops publishing as soon as a ping fails or hangs ([`Leader::lost`]).
//!
//! # Partitions
//!
//! A connection the server closes (`pg_terminate_backend`, a restart) fails the next ping at
//! once. A network partition closes nothing: without keepalives the server keeps the backend, and
//! the lock, for the kernel's default of about two hours, and no standby could take over. The lock
//! connection therefore carries server-side TCP keepalives and a TCP user timeout
//! ([`leadership_connect_options`]): the server drops a silent peer after at most
//! [`SERVER_GIVES_UP_AFTER`] (11 s). The leader notices the partition first, after at most
//! [`LEADER_GIVES_UP_AFTER`] (3 s), so the lock is released only after the old leader stopped
//! publishing. When the connection is closed by the server, both replicas may publish for up to
//! [`LOCK_CHECK_INTERVAL`]: consumers see duplicates then, which at-least-once delivery allows,
//! never a gap.
//!
//! The connection is named [`LEADERSHIP_APPLICATION_NAME`] in `pg_stat_activity`, so an operator
//! can find the backend holding the lock (and end it to force a take-over). The figures, and the
//! query that finds the backend, are in docs/restore-safety.md.

use std::time::Duration;

use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How often the leader checks that its lock connection is alive.
pub const LOCK_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// A ping slower than this counts as a lost connection.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a standby waits to connect or to get an answer to its lock attempt: a partitioned
/// standby must not hang in a TCP connect for minutes.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `application_name` of the lock connection.
pub const LEADERSHIP_APPLICATION_NAME: &str = "commerce-relay-leadership";
/// `tcp_keepalives_idle`: seconds of silence before the server probes the relay.
pub const KEEPALIVE_IDLE_SECS: u64 = 5;
/// `tcp_keepalives_interval`: seconds between unanswered probes.
pub const KEEPALIVE_INTERVAL_SECS: u64 = 2;
/// `tcp_keepalives_count`: unanswered probes after which the server drops the connection.
pub const KEEPALIVE_COUNT: u64 = 3;
/// `tcp_user_timeout` (milliseconds): how long data the server sent (a ping's answer) may stay
/// unacknowledged before it drops the connection; keepalives do not probe a connection with
/// data in flight.
pub const USER_TIMEOUT_MS: u64 = 10_000;
/// Worst case for the server to drop a partitioned leader's connection, releasing the lock.
pub const SERVER_GIVES_UP_AFTER: Duration =
    Duration::from_secs(KEEPALIVE_IDLE_SECS + KEEPALIVE_INTERVAL_SECS * KEEPALIVE_COUNT);
/// Worst case for a partitioned leader to notice and stop publishing.
pub const LEADER_GIVES_UP_AFTER: Duration =
    Duration::from_secs(LOCK_CHECK_INTERVAL.as_secs() + PING_TIMEOUT.as_secs());

// The leader must give up before the server can hand the lock to a standby, or two replicas
// would publish during a partition. The server's timers start at the last traffic, up to one
// check interval before the partition; comparing with the idle time alone (the server cannot
// drop a connection earlier) leaves the probes as margin.
const _: () = assert!(
    LEADER_GIVES_UP_AFTER.as_secs() + LOCK_CHECK_INTERVAL.as_secs() < KEEPALIVE_IDLE_SECS
        && KEEPALIVE_IDLE_SECS < SERVER_GIVES_UP_AFTER.as_secs()
        && LEADER_GIVES_UP_AFTER.as_millis() < USER_TIMEOUT_MS as u128
);

/// `base` (the relay's database options) for the lock connection: named
/// [`LEADERSHIP_APPLICATION_NAME`], with the server-side keepalive settings of this module.
/// Keepalives apply to TCP connections only (a Unix socket has no partition to detect).
pub fn leadership_connect_options(base: PgConnectOptions) -> PgConnectOptions {
    base.application_name(LEADERSHIP_APPLICATION_NAME).options([
        ("tcp_keepalives_idle", KEEPALIVE_IDLE_SECS),
        ("tcp_keepalives_interval", KEEPALIVE_INTERVAL_SECS),
        ("tcp_keepalives_count", KEEPALIVE_COUNT),
        ("tcp_user_timeout", USER_TIMEOUT_MS),
    ])
}

/// The advisory lock key is derived in SQL from this text and the relay name.
const TRY_LOCK_SQL: &str =
    "SELECT pg_try_advisory_lock(hashtextextended('commerce-relay:' || $1, 0))";

/// A replica waiting for the lock; keeps one connection between attempts.
pub struct Standby {
    options: PgConnectOptions,
    name: String,
    connection: Option<PgConnection>,
}

impl Standby {
    /// A standby for relay `name` on the database `options` point at; its lock connection gets
    /// the [`leadership_connect_options`].
    pub fn new(options: PgConnectOptions, name: impl Into<String>) -> Self {
        Self {
            options: leadership_connect_options(options),
            name: name.into(),
            connection: None,
        }
    }

    /// One attempt: `Some(leader)` if this replica now holds the lock.
    /// Each step is bounded by `ATTEMPT_TIMEOUT`.
    pub async fn try_acquire(&mut self) -> Result<Option<Leader>, sqlx::Error> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => within_attempt(PgConnection::connect_with(&self.options)).await?,
        };
        // On a timeout the connection is dropped: its state is unknown.
        let acquired: bool = within_attempt(
            sqlx::query_scalar(TRY_LOCK_SQL)
                .bind(&self.name)
                .fetch_one(&mut connection),
        )
        .await?;
        if acquired {
            Ok(Some(Leader::watch(connection)))
        } else {
            self.connection = Some(connection);
            Ok(None)
        }
    }

    /// Tries every `poll` until the lock is held; logs "relay standby" once while waiting.
    pub async fn acquire(&mut self, poll: Duration) -> Leader {
        let mut announced = false;
        loop {
            match self.try_acquire().await {
                Ok(Some(leader)) => return leader,
                Ok(None) if !announced => {
                    tracing::info!(relay = %self.name, "relay standby: another replica is active");
                    announced = true;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(relay = %self.name, %error, "leadership lock attempt failed");
                }
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// `step` bounded by [`ATTEMPT_TIMEOUT`]; a timeout is an I/O error like any lost connection.
async fn within_attempt<T>(
    step: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    tokio::time::timeout(ATTEMPT_TIMEOUT, step)
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "leadership lock attempt timed out",
            )))
        })
}

/// The held lock. Drop or [`Leader::release`] it to step down.
pub struct Leader {
    lost: watch::Receiver<bool>,
    release: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Leader {
    fn watch(connection: PgConnection) -> Self {
        let (lost_tx, lost) = watch::channel(false);
        let (release, released) = oneshot::channel();
        let task = tokio::spawn(hold(connection, lost_tx, released));
        Self {
            lost,
            release: Some(release),
            task,
        }
    }

    /// Completes when the lock's connection has failed: stop publishing at once.
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        // An error means the watcher ended, which also means the lock is gone.
        let _ = lost.wait_for(|lost| *lost).await;
    }

    /// Whether the lock is (as far as the last check knows) still held.
    pub fn is_held(&self) -> bool {
        !*self.lost.borrow()
    }

    /// Releases the lock by closing its connection, and waits for that.
    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Closing the session (dropping the connection) releases the lock.
        self.task.abort();
    }
}

/// Owns the lock connection: pings it, reports its loss, closes it on release.
async fn hold(
    mut connection: PgConnection,
    lost: watch::Sender<bool>,
    mut released: oneshot::Receiver<()>,
) {
    let mut interval = tokio::time::interval(LOCK_CHECK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut released => {
                let _ = connection.close().await;
                return;
            }
            _ = interval.tick() => {
                // A partition makes a ping hang rather than fail: the timeout turns that into a
                // loss within LEADER_GIVES_UP_AFTER.
                let ping = tokio::time::timeout(PING_TIMEOUT, connection.ping()).await;
                if !matches!(ping, Ok(Ok(()))) {
                    let reason = match ping {
                        Ok(Err(error)) => error.to_string(),
                        _ => format!("no answer within {PING_TIMEOUT:?}"),
                    };
                    tracing::error!(%reason, "leadership lock connection failed; stopping publishing");
                    let _ = lost.send(true);
                    return;
                }
            }
        }
    }
}
