//! The relay's errors; each variant says how the relay reacts.

/// What can stop the relay's active phase. The relay logs it, steps down to standby, and tries
/// again after the longest retry pause: nothing here loses events, because the checkpoint only
/// ever trails what the broker acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A database call failed (checkpoint, leadership lock, log head). Usually transient.
    #[error("database call failed: {0}")]
    Database(#[from] sqlx::Error),

    /// Reading or tailing the event log failed.
    #[error("event log failed: {0}")]
    Store(#[from] event_store::StoreError),

    /// The `$all` subscription ended (it stops after reporting an error).
    #[error("the $all subscription ended")]
    SubscriptionEnded,

    /// The broker client could not be built or shut down cleanly.
    #[error("rocketmq failed: {0}")]
    Broker(#[from] rocketmq::GatewayError),

    /// The leadership lock's connection failed: another replica may take over, so this one
    /// stopped publishing.
    #[error("leadership lost: the lock connection failed")]
    LeadershipLost,

    /// The metrics endpoint could not bind its address. Fatal at start-up.
    #[error("cannot serve metrics on {listen}: {source}")]
    Metrics {
        /// The configured address.
        listen: String,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },

    /// A stored checkpoint is not a valid `$all` position.
    #[error("invalid stored checkpoint: {0}")]
    InvalidCheckpoint(String),

    /// The checkpoint was written in another PostgreSQL cluster (a restore or a migration; see
    /// docs/restore-safety.md). The relay publishes nothing and re-checks every second; an
    /// operator re-anchors the checkpoint with the command in the message, after which the
    /// relay resumes by itself.
    #[error(
        "relay {name} refuses to publish: {reason}; re-anchor its checkpoint by position with \
         `commerce-relay reanchor --name {name} --after-position {after_position}` (every event \
         after that position is then published at least once; see docs/restore-safety.md)"
    )]
    LogEpochMismatch {
        /// The relay name.
        name: String,
        /// What does not match.
        reason: String,
        /// A position after which re-publishing loses nothing the old relay had not published.
        after_position: u64,
    },

    /// The database under a running relay now belongs to another cluster (the pool reconnected
    /// elsewhere). The relay steps down; its next activation checks the checkpoint's epoch.
    #[error("the database's log epoch changed from {from} to {to} while publishing")]
    LogEpochChanged {
        /// The epoch the relay was publishing in.
        from: crate::LogEpoch,
        /// The epoch the database reports now.
        to: crate::LogEpoch,
    },

    /// `commerce-relay reanchor` refused; the message says why and what to do. Nothing changed.
    #[error("re-anchor refused: {0}")]
    Reanchor(String),
}
