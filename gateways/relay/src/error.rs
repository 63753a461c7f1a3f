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
    Broker(#[from] rocketmq_gateway::GatewayError),

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
}
