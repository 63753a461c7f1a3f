//! What can go wrong: [`LoadError`] ends a run before its timed phase (bad configuration, a
//! setup step refused, an endpoint unreachable); [`ErrorKind`] classifies a failed request of
//! the timed phase, and [`Failure`] is such a request's error with its short reason.

use std::fmt;

use serde::{Serialize, Serializer};
use tonic::{Code, Status};

/// A run that could not start its timed phase.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configuration cannot work (no users, no weights, a rate of 0 …). Caller: fix it.
    #[error("invalid load configuration: {0}")]
    Config(String),
    /// An endpoint is not a valid URI. Caller: fix the endpoint.
    #[error("endpoint {endpoint:?} is not a valid URI")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
    },
    /// A setup step (registering a customer, creating a product, waiting for the read models
    /// to show them) failed: the shop is unreachable, refuses the tokens or is not ready.
    /// Caller: check that every process runs with the same `[auth]` settings, then retry.
    #[error("setup failed at {step}: {failure}")]
    Setup {
        /// What the setup was doing.
        step: String,
        /// How it failed.
        failure: Failure,
    },
}

/// The class of a failed request, the unit errors are grouped and tolerated by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// A gRPC status other than OK (its code as `i32`, [`Code`]'s numbering) that the server
    /// answered, or `UNAVAILABLE` when no connection could be made.
    Grpc(i32),
    /// No gRPC answer: the connection broke under the request (a process killed mid-call); the
    /// client library reports it as `UNKNOWN`, `CANCELLED` or `INTERNAL` with a transport error
    /// as its source, never a status the server sent.
    GrpcTransport,
    /// An HTTP answer other than 2xx.
    Http(u16),
    /// No HTTP connection could be made, or it broke before the whole answer arrived (a
    /// process killed).
    HttpConnect,
    /// No answer within [`crate::LoadConfig::request_timeout`].
    Timeout,
    /// An answer that does not parse as what the API documents.
    Protocol,
    /// A purchase whose outcome was not final within
    /// [`crate::LoadConfig::settle_timeout`].
    Unsettled,
    /// A purchase that ended in a way a healthy shop never ends one (cancelled by its deadline,
    /// refunded …).
    Purchase,
}

impl ErrorKind {
    /// The kind of a gRPC status `code`.
    pub fn grpc(code: Code) -> Self {
        Self::Grpc(code as i32)
    }

    /// What a client sees while a process is killed and restarted: gRPC `UNAVAILABLE`, a gRPC
    /// connection broken under a call, HTTP 503 and refused or broken HTTP connections. The
    /// fault suite tolerates these.
    pub fn during_faults() -> Vec<ErrorKind> {
        vec![
            Self::grpc(Code::Unavailable),
            Self::GrpcTransport,
            Self::Http(503),
            Self::HttpConnect,
        ]
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Grpc(code) => write!(f, "grpc {}", code_name(Code::from_i32(*code))),
            Self::Http(status) => write!(f, "http {status}"),
            Self::GrpcTransport => f.write_str("grpc transport"),
            Self::HttpConnect => f.write_str("http connect"),
            Self::Timeout => f.write_str("timeout"),
            Self::Protocol => f.write_str("protocol"),
            Self::Unsettled => f.write_str("purchase unsettled"),
            Self::Purchase => f.write_str("purchase failed"),
        }
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A failed request: its kind and a short reason (the server's message or error code, ids and
/// numbers folded so that equal failures group together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class.
    pub kind: ErrorKind,
    /// Why, in a few words.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

impl Failure {
    /// A failure of `kind` for `reason` (folded, see [`fold_reason`]).
    pub fn new(kind: ErrorKind, reason: &str) -> Self {
        Self {
            kind,
            reason: fold_reason(reason),
        }
    }

    /// The failure a gRPC status reports. A status the client library made up from a transport
    /// error (it carries that error as its source; the server's statuses carry none) is
    /// [`ErrorKind::GrpcTransport`], unless it is `UNAVAILABLE` (no connection at all).
    pub fn from_status(status: &Status) -> Self {
        let code = status.code();
        if code != Code::Unavailable && std::error::Error::source(status).is_some() {
            let reason = format!("{}: {}", code_name(code), status.message());
            return Self::new(ErrorKind::GrpcTransport, &reason);
        }
        Self::new(ErrorKind::grpc(code), status.message())
    }

    /// The failure a transport-level HTTP error reports.
    pub fn from_http(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::new(ErrorKind::Timeout, "http request timed out")
        } else if error.is_connect() || error.is_request() || error.is_body() {
            Self::new(ErrorKind::HttpConnect, &root_cause(error))
        } else {
            Self::new(ErrorKind::Protocol, &root_cause(error))
        }
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The protobuf name of a gRPC code (`UNAVAILABLE`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A reason short and general enough to group by: words holding a digit (ids, amounts,
/// versions) become `…` (one for a run of them), and the text is cut at 80 characters.
pub fn fold_reason(reason: &str) -> String {
    let mut folded: Vec<&str> = reason
        .split_whitespace()
        .map(|word| {
            if word.chars().any(|c| c.is_ascii_digit()) {
                "…"
            } else {
                word
            }
        })
        .collect();
    folded.dedup_by(|a, b| *a == "…" && *b == "…");
    let mut text = folded.join(" ");
    if let Some((cut, _)) = text.char_indices().nth(80) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fold_ids_and_numbers_so_equal_failures_group() {
        let a = fold_reason(
            "insufficient stock for sku 6f1c2d3e-0000-4000-8000-000000000001: 0 available, 1 requested",
        );
        let b = fold_reason(
            "insufficient stock for sku 00000000-0000-4000-8000-00000000000f: 2 available, 3 requested",
        );
        assert_eq!(a, b);
        assert_eq!(a, "insufficient stock for sku … available, … requested");
        assert!(fold_reason(&"word ".repeat(40)).chars().count() <= 81);
    }

    #[test]
    fn a_connection_broken_under_a_call_is_a_transport_failure_not_a_server_status() {
        let broken = Status::from_error(Box::new(std::io::Error::other(
            "connection closed before message completed",
        )));
        assert_eq!(broken.code(), Code::Unknown);
        assert_eq!(Failure::from_status(&broken).kind, ErrorKind::GrpcTransport);
        let answered = Status::unknown("the server said so");
        assert_eq!(
            Failure::from_status(&answered).kind,
            ErrorKind::grpc(Code::Unknown)
        );
    }

    #[test]
    fn error_kinds_read_like_the_wire() {
        assert_eq!(
            ErrorKind::grpc(Code::FailedPrecondition).to_string(),
            "grpc FAILED_PRECONDITION"
        );
        assert_eq!(ErrorKind::Http(503).to_string(), "http 503");
        assert!(ErrorKind::during_faults().contains(&ErrorKind::grpc(Code::Unavailable)));
        assert!(!ErrorKind::during_faults().contains(&ErrorKind::grpc(Code::Internal)));
    }
}
