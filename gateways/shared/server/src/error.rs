//! Why a process could not start: one error for every server's `App::build`. Each failure is
//! fatal; `main` prints it and exits non-zero.

/// Why a server could not start. Fatal: fix the configuration (or free the port) and restart.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A listen address (the service's or its metrics endpoint's) is taken, not ours, or
    /// unparsable.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address, as configured.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database settings are unusable.
    #[error("invalid database settings: {0}")]
    Database(#[from] sqlx::Error),
    /// Redis is unreachable or its URL unusable (the query services read Redis models).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The reflection service could not be built from the file descriptor sets.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The endpoint of a gRPC service this process calls is unusable.
    #[error("invalid endpoint {endpoint}: {source}")]
    Endpoint {
        /// The configured endpoint.
        endpoint: String,
        /// Why.
        source: tonic::transport::Error,
    },
}
