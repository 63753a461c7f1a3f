//! Waking `$all` tailers after appends, without putting `NOTIFY` in the append transaction.
//!
//! A `NOTIFY` inside a transaction takes a server-wide lock at commit, which serializes every
//! notifying commit. Instead, each append flags "something was appended" after its commit returns,
//! and one task per store sends a single `NOTIFY` on its own connection for however many appends
//! happened since its previous one. Because the flag is raised after the commit, a tailer woken by
//! that `NOTIFY` always sees the append. Notifications are only a latency optimisation: tailers
//! also poll, since a rolled-back or crashed append notifies nobody.

use std::{sync::Arc, time::Duration};

use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use tokio::{sync::Notify, task::JoinHandle};
use tracing::warn;

/// The channel appends are announced on.
pub const CHANNEL: &str = "event_log_appended";

/// Least time between two notifications from one store.
const MIN_INTERVAL: Duration = Duration::from_millis(2);

/// Coalesces append signals into `NOTIFY`s; stops when dropped.
pub(crate) struct Notifier {
    pending: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Notifier {
    pub(crate) fn spawn(options: PgConnectOptions) -> Self {
        // A NOTIFY's transaction is given a transaction id and its commit would wait for a WAL
        // flush like an append's. The notification is a hint, not data: don't wait for the disk.
        let options = options.options([("synchronous_commit", "off")]);
        let pending = Arc::new(Notify::new());
        let task = tokio::spawn(run(options, Arc::clone(&pending)));
        Self { pending, task }
    }

    /// Records that an append committed. Never blocks; many calls before the task runs again
    /// become one `NOTIFY`.
    pub(crate) fn appended(&self) {
        self.pending.notify_one();
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(options: PgConnectOptions, pending: Arc<Notify>) {
    let mut connection: Option<PgConnection> = None;
    loop {
        pending.notified().await;
        if connection.is_none() {
            match PgConnection::connect_with(&options).await {
                Ok(c) => connection = Some(c),
                Err(err) => {
                    warn!(error = %err, "append notifier cannot connect; tailers will poll");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let conn = connection.as_mut().expect("connected above");
        if let Err(err) = sqlx::query(&format!("NOTIFY {CHANNEL}"))
            .execute(conn)
            .await
        {
            warn!(error = %err, "append notification failed; reconnecting");
            connection = None;
        }
        // Under load, appends arrive faster than notifications are useful: a busy tailer reads
        // whole pages without waiting anyway. Bounding the rate keeps the server's work per append
        // small, at the cost of waking an idle tailer at most this much later.
        tokio::time::sleep(MIN_INTERVAL).await;
    }
}
