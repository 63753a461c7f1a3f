//! The store's error type. Each variant's doc says what a caller should do about it.

use uuid::Uuid;

use crate::{CurrentVersion, ExpectedVersion, InvalidStreamId};

/// Why an append or read failed. Nothing is written when an append fails.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream's version did not match the expectation. Reload the stream, decide again and
    /// retry with the new version, or report a conflict to the caller.
    #[error("wrong expected version on stream {stream}: expected {expected}, actual {actual}")]
    WrongExpectedVersion {
        /// The stream appended to.
        stream: String,
        /// What the caller said the version would be.
        expected: ExpectedVersion,
        /// What it was when the append ran.
        actual: CurrentVersion,
    },
    /// The stream id is malformed. Reject the request as invalid.
    #[error(transparent)]
    InvalidStreamId(#[from] InvalidStreamId),
    /// An append was called with no events. Reject the request as invalid.
    #[error("empty batch: an append needs at least one event")]
    EmptyBatch,
    /// More events in one append than the store accepts. Split the batch.
    #[error("batch of {count} events is over the limit of {limit}")]
    BatchTooLarge {
        /// Events in the rejected append.
        count: usize,
        /// Most events one append may carry.
        limit: usize,
    },
    /// One event's data plus metadata is over the configured size limit. Reject the request.
    #[error("event {event_id} is {size} bytes, over the limit of {limit} bytes")]
    EventTooLarge {
        /// The oversized event.
        event_id: Uuid,
        /// Its data plus metadata, in bytes.
        size: usize,
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// An event is malformed (data not a JSON object, empty type, bad schema version, a string
    /// PostgreSQL cannot store). Reject the request as invalid.
    #[error("event {event_id} is invalid: {reason}")]
    InvalidEvent {
        /// The malformed event.
        event_id: Uuid,
        /// What is wrong with it, for the caller's error message.
        reason: &'static str,
    },
    /// The same event id appears twice in one batch. Reject the request as invalid.
    #[error("event id {0} appears more than once in the batch")]
    DuplicateEventId(Uuid),
    /// Some, but not all, of the batch's event ids were already written: this is not a retry of
    /// an earlier append. A client bug; reject it and do not retry.
    #[error("{written} of {total} event ids in the batch were already written by another append")]
    PartiallyWritten {
        /// Event ids of the batch already in the log.
        written: usize,
        /// Event ids in the batch.
        total: usize,
    },
    /// All event ids were already written, but to another stream, in another order, over several
    /// appends or as a part of a larger append: not a retry of the same append. A client bug; reject it and do not retry.
    #[error("event ids were already written to stream {stream} in a different arrangement")]
    IdempotencyMismatch {
        /// The stream the rejected append targeted.
        stream: String,
    },
    /// All event ids were already written, as one whole append, but by a request with another
    /// command fingerprint: the command id was reused for a different request. A client bug;
    /// reject it and do not retry.
    #[error("event ids were already written to stream {stream} by a different request")]
    FingerprintMismatch {
        /// The stream the rejected append targeted.
        stream: String,
    },
    /// Too many concurrent appends raced for the same stream with `Any`. Retry later.
    #[error("append to stream {stream} lost {attempts} races in a row")]
    Contention {
        /// The contended stream.
        stream: String,
        /// Races lost before giving up.
        attempts: u32,
    },
    /// The database failed, is unreachable, or refused the statement (a permission denied, for
    /// one). [`is_transient`] tells an outage (retry with backoff; report unavailability) from a
    /// refusal (retrying cannot help).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether the append might succeed if retried unchanged later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Contention { .. } => true,
            Self::Database(error) => is_transient(error),
            _ => false,
        }
    }
}

/// SQLSTATE of a unique-constraint violation.
pub(crate) const UNIQUE_VIOLATION: &str = "23505";

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION))
}

/// Whether a database error says "the database cannot serve this right now" rather than "this
/// statement or its data is wrong": retrying the same work later can succeed. The one
/// classification every caller of the store shares (command services answer "unavailable",
/// projections wait instead of parking); see `docs/projection-runtime-errors.md`.
///
/// - No usable connection: I/O, TLS or protocol failure, pool timeout or closed, worker crash.
/// - SQLSTATE class `08` (connection exception), `53` (insufficient resources: out of
///   connections, memory, disk), `57` (operator intervention: `57P01` admin shutdown, `57014`
///   query canceled, including by `statement_timeout`).
/// - `40001` serialization failure and `40P01` deadlock detected: the transaction lost a race;
///   run again, it normally succeeds.
/// - `25006` read-only SQL transaction: a demoted primary (or a replica) answered; wait for the
///   failover to finish. Drop the connection rather than reuse it, or it keeps answering so.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATE classes and codes [`is_transient`] accepts.
fn transient_sqlstate(code: &str) -> bool {
    const CLASSES: [&str; 3] = ["08", "53", "57"];
    const CODES: [&str; 3] = [
        SERIALIZATION_FAILURE,
        DEADLOCK_DETECTED,
        READ_ONLY_TRANSACTION,
    ];
    CLASSES.iter().any(|class| code.starts_with(class)) || CODES.contains(&code)
}

const SERIALIZATION_FAILURE: &str = "40001";
const DEADLOCK_DETECTED: &str = "40P01";
const READ_ONLY_TRANSACTION: &str = "25006";

#[cfg(test)]
mod tests {
    use super::transient_sqlstate;

    #[test]
    fn transient_sqlstates_are_outages_and_lost_races_not_bad_statements() {
        for code in [
            "08006", "08P01", "53300", "57P01", "57014", "40001", "40P01", "25006",
        ] {
            assert!(transient_sqlstate(code), "{code} is transient");
        }
        for code in ["23505", "42P01", "22P02", "40002", "25001", "P0001"] {
            assert!(!transient_sqlstate(code), "{code} is not transient");
        }
    }
}
