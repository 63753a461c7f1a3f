//! Exactly one active relay per name: a session-level PostgreSQL advisory lock held on a
//! dedicated connection (not from the pool, so the lock lives exactly as long as that session).
//!
//! If the lock's connection dies, PostgreSQL releases the lock and a standby takes it. The
//! leader therefore pings its connection every [`LOCK_CHECK_INTERVAL`] and stops publishing as
//! soon as a ping fails ([`Leader::lost`]). Between the connection's death and the failed ping
//! both replicas may publish for up to that interval: consumers see duplicates then, which
//! at-least-once delivery allows, never a gap.

use std::time::Duration;

use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How often the leader checks that its lock connection is alive.
pub const LOCK_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// A ping slower than this counts as a lost connection.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// A standby for relay `name` on the database `options` point at.
    pub fn new(options: PgConnectOptions, name: impl Into<String>) -> Self {
        Self {
            options,
            name: name.into(),
            connection: None,
        }
    }

    /// One attempt: `Some(leader)` if this replica now holds the lock.
    pub async fn try_acquire(&mut self) -> Result<Option<Leader>, sqlx::Error> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => PgConnection::connect_with(&self.options).await?,
        };
        let acquired: bool = sqlx::query_scalar(TRY_LOCK_SQL)
            .bind(&self.name)
            .fetch_one(&mut connection)
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
                let ping = tokio::time::timeout(PING_TIMEOUT, connection.ping()).await;
                if !matches!(ping, Ok(Ok(()))) {
                    tracing::error!("leadership lock connection failed; stopping publishing");
                    let _ = lost.send(true);
                    return;
                }
            }
        }
    }
}
