//! Everything a query can fail with, and the one place it becomes a gRPC status.

use std::time::Duration;

use projections::read_models::ReadError;
use tonic::{Code, Status, metadata::MetadataValue};

use crate::audit::AuditError;

/// The trailer naming why a call failed when the code alone is ambiguous (`UNAVAILABLE`); the
/// HTTP gateway reads the same constant.
pub use proto::contract::ERROR_REASON as REASON_METADATA;
/// The reason of a consistency token the read model did not reach in time.
pub use proto::contract::NOT_YET_CONSISTENT;

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request is malformed (an id that is not a UUID, a bad cursor, limit, status or
    /// token). Client: fix the request.
    #[error("{0}")]
    InvalidArgument(String),
    /// Nothing with this id in the read model (yet). Client: check the id, or pass the
    /// consistency token of the command that created it.
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials.
    #[error(transparent)]
    Unauthenticated(#[from] auth::Unauthenticated),
    /// Valid credentials that may not read this.
    #[error(transparent)]
    PermissionDenied(#[from] auth::Denied),
    /// The read model had not applied the token's version within the wait. The write did
    /// happen. Client: retry shortly.
    #[error(
        "{NOT_YET_CONSISTENT}: read model {model} has not applied version {version} of {stream} after {waited:?}"
    )]
    NotYetConsistent {
        /// The answering read model.
        model: &'static str,
        /// The token's stream.
        stream: String,
        /// The token's version.
        version: u64,
        /// How long the service waited.
        waited: Duration,
    },
    /// A Redis read model has no live generation: Redis lost its data and the workers are
    /// rebuilding it (or have not built it yet). Client: retry with backoff.
    #[error("read model {model} is being rebuilt; retry later")]
    NotBuilt {
        /// The read model.
        model: &'static str,
    },
    /// A read model's store failed or is unreachable. Client: retry with backoff.
    #[error("read model unavailable")]
    Unavailable(#[source] ReadError),
    /// A read model holds something its projection never writes: a bug.
    #[error("internal error")]
    Internal(#[source] ReadError),
}

impl From<ReadError> for QueryError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::InvalidCursor(cursor) => {
                QueryError::InvalidArgument(format!("unknown cursor {cursor:?}"))
            }
            ReadError::Corrupt(_) => QueryError::Internal(error),
            ReadError::Postgres(_) | ReadError::Redis(_) => QueryError::Unavailable(error),
        }
    }
}

impl From<AuditError> for QueryError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::InvalidArgument(message) => QueryError::InvalidArgument(message),
            AuditError::NotFound(message) => QueryError::NotFound(message),
            AuditError::Database(error) => QueryError::Unavailable(ReadError::Postgres(error)),
            AuditError::Corrupt(message) => QueryError::Internal(ReadError::Corrupt(message)),
        }
    }
}

impl From<QueryError> for Status {
    fn from(error: QueryError) -> Self {
        let code = match &error {
            QueryError::InvalidArgument(_) => Code::InvalidArgument,
            QueryError::NotFound(_) => Code::NotFound,
            QueryError::Unauthenticated(_) => Code::Unauthenticated,
            QueryError::PermissionDenied(_) => Code::PermissionDenied,
            QueryError::NotYetConsistent { .. }
            | QueryError::NotBuilt { .. }
            | QueryError::Unavailable(_) => Code::Unavailable,
            QueryError::Internal(_) => Code::Internal,
        };
        match &error {
            QueryError::Unavailable(source) | QueryError::Internal(source) => {
                tracing::error!(error = %source, "query failed");
            }
            _ => tracing::debug!(%error, "query refused"),
        }
        let mut status = Status::new(code, error.to_string());
        if matches!(error, QueryError::NotYetConsistent { .. }) {
            status.metadata_mut().insert(
                REASON_METADATA,
                MetadataValue::from_static(NOT_YET_CONSISTENT),
            );
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_yet_consistent_is_unavailable_with_its_reason() {
        let status = Status::from(QueryError::NotYetConsistent {
            model: "customers",
            stream: "customer-1".into(),
            version: 3,
            waited: Duration::from_millis(5),
        });
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().starts_with("not_yet_consistent:"));
        assert_eq!(
            status.metadata().get(REASON_METADATA).unwrap(),
            NOT_YET_CONSISTENT
        );
        let other = Status::from(QueryError::Unavailable(ReadError::Corrupt("x".into())));
        assert!(other.metadata().get(REASON_METADATA).is_none());
        assert_eq!(other.message(), "read model unavailable");
    }
}
