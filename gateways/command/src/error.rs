//! The service's error type and its single mapping to gRPC status codes.
//!
//! Every handler returns [`AppError`]; `From<AppError> for tonic::Status` is the only place that
//! chooses a code and a client-facing message. Internal details (database errors, corrupt events)
//! are logged here and never sent to the client.

use aggregates::{DecodeError, DomainError, ErrorKind};
use event_store::StoreError;
use tonic::{Code, Status};

/// Why a command or query failed. Each variant's doc says what the client should do.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A request field is missing or malformed (not a UUID, an unknown currency...).
    /// Client: fix the request; retrying it unchanged can never succeed.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The offending field, as named in the .proto file.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The aggregate rejected the command (mapped by [`DomainError::kind`]).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The command id was already used by a different command (another stream or another shape
    /// of events). Client: mint a new command id per intended action.
    #[error("command id {command_id} was already used for a different command")]
    CommandIdReused {
        /// The reused id.
        command_id: uuid::Uuid,
    },
    /// The command id already ran with a different request (another method, caller or body: its
    /// fingerprint differs, see `docs/command-fingerprints.md`). Client: a retry must resend the
    /// very same request; a new intended action needs a new command id.
    #[error("command id {command_id} reused with a different request")]
    DifferentRequest {
        /// The reused id.
        command_id: uuid::Uuid,
    },
    /// Another aggregate the command reads is not in the state the command needs (placing an
    /// order from an empty cart, or from a cart that changed since the version the client saw).
    /// Client: re-read that aggregate and decide again; retrying unchanged cannot succeed.
    #[error("{0}")]
    Precondition(String),
    /// The stream kept changing under the command: every attempt lost the optimistic
    /// concurrency race. Client: retry later with the same command id.
    #[error("stream {stream} kept changing; gave up after {attempts} attempts")]
    Conflict {
        /// The contended stream.
        stream: String,
        /// Attempts made.
        attempts: u32,
    },
    /// No valid credentials (missing, malformed, badly signed or expired token).
    /// Client: obtain a fresh token.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// Valid credentials that do not allow this command (another customer's account, a missing
    /// role). Client: do not retry.
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    /// The event store cannot be reached or timed out. Client: retry with backoff.
    #[error("event store unavailable")]
    Unavailable(#[source] StoreError),
    /// Another service this command needs (the product service, for the cart) is down, failing
    /// or did not answer within the deadline; nothing was changed. Client: retry with backoff,
    /// with the same command id.
    #[error("{service} service unavailable: {reason}")]
    DependencyUnavailable {
        /// The service called, e.g. `product`.
        service: &'static str,
        /// What went wrong, in words safe to show (details are logged where it happened).
        reason: String,
    },
    /// A bug or corrupt data (an event that does not decode, a store invariant broken).
    /// Client: nothing to do; operators read the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A malformed request field.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(ref db) if is_unavailable(db) => Self::Unavailable(error),
            StoreError::Contention { .. } => Self::Unavailable(error),
            StoreError::EventTooLarge { .. } => {
                Self::invalid("request", "the command's data is too large")
            }
            StoreError::InvalidStreamId(ref id) => Self::invalid("id", id.reason.to_owned()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<DecodeError> for AppError {
    fn from(error: DecodeError) -> Self {
        Self::Internal(format!("stored event does not decode: {error}"))
    }
}

/// Whether a database error means "cannot reach or use the database right now" rather than a
/// bug in a statement: the store's one classification, [`event_store::is_transient`] (no
/// connection; SQLSTATE classes 08, 53, 57, including 57014 query_canceled by
/// `statement_timeout`; 40001 and 40P01, a lost race; 25006, read-only during a failover).
fn is_unavailable(error: &sqlx::Error) -> bool {
    event_store::is_transient(error)
}

impl From<AppError> for Status {
    fn from(error: AppError) -> Self {
        let code = match &error {
            AppError::InvalidArgument { .. }
            | AppError::CommandIdReused { .. }
            | AppError::DifferentRequest { .. } => Code::InvalidArgument,
            AppError::Domain(domain) => match domain.kind() {
                ErrorKind::InvalidArgument => Code::InvalidArgument,
                ErrorKind::NotFound => Code::NotFound,
                ErrorKind::AlreadyExists => Code::AlreadyExists,
                ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            },
            AppError::Precondition(_) => Code::FailedPrecondition,
            AppError::Conflict { .. } => Code::Aborted,
            AppError::Unauthenticated(_) => Code::Unauthenticated,
            AppError::PermissionDenied(_) => Code::PermissionDenied,
            AppError::Unavailable(_) | AppError::DependencyUnavailable { .. } => Code::Unavailable,
            AppError::Internal(_) => Code::Internal,
        };
        match &error {
            AppError::Unavailable(source) => {
                tracing::warn!(error = %source, "event store unavailable");
                Status::new(code, "service temporarily unavailable; retry later")
            }
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::new(code, "internal error")
            }
            _ => {
                tracing::debug!(%error, ?code, "command rejected");
                Status::new(code, error.to_string())
            }
        }
    }
}

impl From<crate::auth::Unauthenticated> for AppError {
    fn from(error: crate::auth::Unauthenticated) -> Self {
        AppError::Unauthenticated(error.0)
    }
}

impl From<crate::auth::Denied> for AppError {
    fn from(error: crate::auth::Denied) -> Self {
        AppError::PermissionDenied(error.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_map_by_kind() {
        let cases = [
            (
                DomainError::NotCreated { entity: "customer" },
                Code::NotFound,
            ),
            (
                DomainError::AlreadyExists {
                    entity: "sku",
                    id: "x".into(),
                },
                Code::AlreadyExists,
            ),
            (
                DomainError::Invalid {
                    field: "name",
                    reason: "is empty",
                },
                Code::InvalidArgument,
            ),
            (
                DomainError::Inactive {
                    entity: "customer",
                    id: "x".into(),
                    status: "deactivated",
                },
                Code::FailedPrecondition,
            ),
        ];
        for (domain, code) in cases {
            assert_eq!(Status::from(AppError::from(domain)).code(), code);
        }
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let status = Status::from(AppError::Internal("password=hunter2 at row 7".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));

        let status = Status::from(AppError::from(StoreError::Database(
            sqlx::Error::PoolTimedOut,
        )));
        assert_eq!(status.code(), Code::Unavailable);
    }

    #[test]
    fn an_unavailable_dependency_is_named_in_an_unavailable_status() {
        let status = Status::from(AppError::DependencyUnavailable {
            service: "product",
            reason: "no answer within 2000 ms".into(),
        });
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            "product service unavailable: no answer within 2000 ms"
        );
    }
}
