//! The one error shape of the API and the one mapping from gRPC statuses to it.
//!
//! Every failure, whether a handler's, an extractor's, an unknown route's or a gRPC call's,
//! becomes an [`ApiError`], and every error response carries the body
//! `{"error": {"code": "<snake_case>", "message": "<text>", "request_id": "<id>"}}`.
//!
//! [`ApiError::into_response`](axum::response::IntoResponse::into_response) cannot know the
//! request id, so it sets the status and headers and leaves an [`ErrorReport`] in the response's
//! extensions; the request middleware ([`crate::middleware`]) writes the body with the id.

use auth::{Denied, Unauthenticated};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tonic::{Code, Status};
use utoipa::ToSchema;

/// gRPC metadata key (a trailer) whose value says why a query failed when the code alone does
/// not; the query service writes the same constant.
pub use proto::contract::ERROR_REASON;
/// The [`ERROR_REASON`] of a read model that has not yet reached the requested consistency
/// token; also the prefix of such a status's message.
pub use proto::contract::NOT_YET_CONSISTENT;

/// What went wrong, as a client switches on it (`error.code` of the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a malformed id, parameter or header; fix the request.
    InvalidArgument,
    /// 401: no valid bearer token; get a (new) token.
    Unauthenticated,
    /// 401: a payment provider callback whose `Commerce-Signature` is missing, malformed, stale
    /// or matches no webhook secret; the message says which. Nothing happened.
    InvalidSignature,
    /// 403: the token does not allow this read.
    Forbidden,
    /// 404: no such resource, or no such route.
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 413: the request has a body larger than the route takes (the webhook 64 KiB; every other
    /// route reads none and takes up to 1 KiB).
    PayloadTooLarge,
    /// 503: the read model has not yet applied the write named by `X-Consistency-Token`; the
    /// write happened: retry after `Retry-After` seconds.
    NotYetConsistent,
    /// 503: the query service (or, for the webhook, the payment service) cannot be reached or is
    /// overloaded; retry after `Retry-After`.
    Unavailable,
    /// 503: the query service did not answer in time (it was starting, or waiting for its
    /// database); retry after `Retry-After`.
    Timeout,
    /// 500: a fault of the service; the detail is in its log under the request id.
    Internal,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What an error response says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable kind of the error.
    pub code: ErrorCode,
    /// Human-readable explanation; never contains internal details.
    pub message: String,
    /// The request's id (also in the `X-Request-Id` response header), to find it in the logs.
    pub request_id: String,
}

/// The code and message an error response will carry, left in the response's extensions by
/// [`ApiError::into_response`] for the middleware to render with the request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// The code.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl ErrorReport {
    /// The report for a bare error status produced outside our code (none is expected; this is
    /// a safety net so that no error response leaves without the error shape).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => (
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body too large"),
            StatusCode::UNAUTHORIZED => (ErrorCode::Unauthenticated, "authentication required"),
            StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "forbidden"),
            StatusCode::SERVICE_UNAVAILABLE => (ErrorCode::Unavailable, "service unavailable"),
            StatusCode::GATEWAY_TIMEOUT | StatusCode::REQUEST_TIMEOUT => {
                (ErrorCode::Timeout, "request timed out")
            }
            status if status.is_client_error() => (ErrorCode::InvalidArgument, "bad request"),
            _ => (ErrorCode::Internal, "internal error"),
        };
        Self {
            code,
            message: message.to_owned(),
        }
    }

    /// The response body for this report and `request_id`.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                request_id: request_id.to_owned(),
            },
        }
    }
}

/// Why a request failed. Each variant's doc says how a client should react; the HTTP status
/// and [`ErrorCode`] follow from the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_argument`: fix the request as the message says.
    #[error("{0}")]
    InvalidArgument(String),
    /// 401 `unauthenticated`: send a valid, unexpired bearer token of our issuer.
    #[error("{0}")]
    Unauthenticated(String),
    /// 401 `invalid_signature`: a callback to the payment webhook whose signature is refused
    /// (the variant says why); the provider must sign with a current secret and clock.
    #[error("{0}")]
    InvalidSignature(webhook::SignatureError),
    /// 403 `forbidden`: the token's subject or roles do not allow this read.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`: no such resource (or route).
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`: use GET.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 413 `payload_too_large`: send a smaller body (the read routes take none); the field is
    /// the route's limit.
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 503 `not_yet_consistent` with `Retry-After: 1`: the write happened but is not yet
    /// readable here; retry the same request.
    #[error("{0}")]
    NotYetConsistent(String),
    /// 503 `unavailable` with `Retry-After: 1`: the query service is down or overloaded; retry
    /// later. The field is the detail for the log, not sent.
    #[error("query service unavailable: {0}")]
    Unavailable(String),
    /// 503 `unavailable` with `Retry-After: 1`: the payment service is down, overloaded or
    /// did not answer in time (the webhook's callers, payment providers, retry on a 5xx). The
    /// field is the detail for the log, not sent.
    #[error("payment service unavailable: {0}")]
    PaymentServiceUnavailable(String),
    /// 503 `timeout` with `Retry-After: 1`: no answer in time; retry later. A passing failure
    /// like [`ApiError::Unavailable`], so it has the same status and header: a client retries
    /// every 503 after `Retry-After` and needs no second rule for a gateway timeout. The field
    /// is the detail for the log.
    #[error("query service timed out: {0}")]
    Timeout(String),
    /// 500 `internal`: our fault. The field is the detail for the log, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) | Self::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotYetConsistent(_)
            | Self::Unavailable(_)
            | Self::PaymentServiceUnavailable(_)
            | Self::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::InvalidSignature(_) => ErrorCode::InvalidSignature,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::NotYetConsistent(_) => ErrorCode::NotYetConsistent,
            Self::Unavailable(_) | Self::PaymentServiceUnavailable(_) => ErrorCode::Unavailable,
            Self::Timeout(_) => ErrorCode::Timeout,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the client is told: the message for its own mistakes, a fixed text for ours.
    fn public_message(&self) -> String {
        match self {
            Self::Unavailable(_) => "the query service is unavailable; retry later".to_owned(),
            Self::PaymentServiceUnavailable(_) => {
                "the payment service is unavailable; retry later".to_owned()
            }
            Self::Timeout(_) => "the query service did not answer in time; retry later".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// A 400 about `field`: `"<field> <problem>"`.
    pub fn invalid(field: &str, problem: &str) -> Self {
        Self::InvalidArgument(format!("{field} {problem}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(_) => tracing::error!(error = %self, "request failed"),
            Self::Unavailable(_) | Self::PaymentServiceUnavailable(_) | Self::Timeout(_) => {
                tracing::warn!(error = %self, "request failed");
            }
            Self::InvalidSignature(_) => tracing::info!(error = %self, "callback refused"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let mut response = self.status().into_response();
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // RFC 9110: a 401 names the scheme the client should use — the webhook's is its
            // signature header, every other route's a bearer token (RFC 6750).
            StatusCode::UNAUTHORIZED => {
                let scheme = match self {
                    Self::InvalidSignature(_) => "Commerce-Signature",
                    _ => "Bearer",
                };
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
            }
            _ => {}
        }
        response.extensions_mut().insert(ErrorReport {
            code: self.code(),
            message: self.public_message(),
        });
        response
    }
}

impl From<Unauthenticated> for ApiError {
    fn from(error: Unauthenticated) -> Self {
        Self::Unauthenticated(error.0.to_owned())
    }
}

impl From<Denied> for ApiError {
    fn from(error: Denied) -> Self {
        Self::Forbidden(error.0.to_owned())
    }
}

/// The one mapping from a query service's answer (or a failed call) to the API's errors.
impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let message = status.message();
        let said = |fallback: &str| {
            if message.is_empty() {
                fallback.to_owned()
            } else {
                message.to_owned()
            }
        };
        match status.code() {
            Code::NotFound => Self::NotFound(said("not found")),
            // OUT_OF_RANGE is a request beyond what exists (a page past the end): also the
            // client's to fix.
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument(said("invalid")),
            Code::Unauthenticated => Self::Unauthenticated(said("unauthenticated")),
            Code::PermissionDenied => Self::Forbidden(said("permission denied")),
            Code::Unavailable if is_not_yet_consistent(&status) => {
                Self::NotYetConsistent(said(NOT_YET_CONSISTENT))
            }
            // A connect failure is UNAVAILABLE too (tonic maps it so); RESOURCE_EXHAUSTED is an
            // overloaded server; a connection that broke under the call (the query service's
            // process died mid-request) is tonic's own UNKNOWN "transport error": all pass with
            // time.
            Code::Unavailable | Code::ResourceExhausted => {
                Self::Unavailable(format!("{:?}: {message}", status.code()))
            }
            Code::Unknown if is_broken_connection(&status) => {
                Self::Unavailable(format!("{:?}: {message}", status.code()))
            }
            // tonic reports an expired deadline, ours or the server's, as CANCELLED ("Timeout
            // expired"); the gateway cancels calls no other way.
            Code::DeadlineExceeded | Code::Cancelled => {
                Self::Timeout(format!("{:?}: {message}", status.code()))
            }
            code => Self::Internal(format!("query service answered {code:?}: {message}")),
        }
    }
}

/// Whether `status` is tonic's report of the connection breaking under the call, not an answer
/// of the server: its source is a transport error (or, once passed on, its message says so).
fn is_broken_connection(status: &Status) -> bool {
    std::error::Error::source(status)
        .is_some_and(<dyn std::error::Error>::is::<tonic::transport::Error>)
        || status.message() == "transport error"
}

/// Whether `status` is the query services' "not yet consistent" answer: the trailer says so, or
/// (when a proxy dropped the trailer) the message does.
fn is_not_yet_consistent(status: &Status) -> bool {
    status
        .metadata()
        .get(ERROR_REASON)
        .is_some_and(|reason| reason == NOT_YET_CONSISTENT)
        || status
            .message()
            .strip_prefix(NOT_YET_CONSISTENT)
            .is_some_and(|rest| rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(status: Status) -> (StatusCode, ErrorCode) {
        let error = ApiError::from(status);
        (error.status(), error.code())
    }

    #[test]
    fn grpc_codes_map_to_http_statuses_and_codes() {
        let cases = [
            (Status::not_found("x"), 404, ErrorCode::NotFound),
            (
                Status::invalid_argument("x"),
                400,
                ErrorCode::InvalidArgument,
            ),
            (Status::out_of_range("x"), 400, ErrorCode::InvalidArgument),
            (
                Status::unknown("transport error"),
                503,
                ErrorCode::Unavailable,
            ),
            (
                Status::unauthenticated("x"),
                401,
                ErrorCode::Unauthenticated,
            ),
            (Status::permission_denied("x"), 403, ErrorCode::Forbidden),
            (
                Status::unavailable("tcp connect error"),
                503,
                ErrorCode::Unavailable,
            ),
            (
                Status::resource_exhausted("busy"),
                503,
                ErrorCode::Unavailable,
            ),
            (Status::deadline_exceeded("x"), 503, ErrorCode::Timeout),
            (
                Status::cancelled("Timeout expired"),
                503,
                ErrorCode::Timeout,
            ),
            (Status::internal("db down"), 500, ErrorCode::Internal),
            (Status::unknown("x"), 500, ErrorCode::Internal),
            (Status::failed_precondition("x"), 500, ErrorCode::Internal),
        ];
        for (status, http, code) in cases {
            let grpc = status.code();
            assert_eq!(
                mapped(status),
                (StatusCode::from_u16(http).unwrap(), code),
                "{grpc:?}"
            );
        }
    }

    #[test]
    fn not_yet_consistent_is_recognised_by_the_trailer_or_the_message_prefix() {
        let mut by_trailer = Status::unavailable("waiting gave up");
        by_trailer
            .metadata_mut()
            .insert(ERROR_REASON, NOT_YET_CONSISTENT.parse().unwrap());
        assert_eq!(mapped(by_trailer).1, ErrorCode::NotYetConsistent);
        let by_message = Status::unavailable("not_yet_consistent: cart-1@3 not applied");
        assert_eq!(mapped(by_message).1, ErrorCode::NotYetConsistent);
        assert_eq!(
            mapped(Status::unavailable("not_yet_consistently_down")).1,
            ErrorCode::Unavailable
        );
    }

    #[test]
    fn the_not_yet_consistent_error_code_is_the_query_services_reason() {
        assert_eq!(
            serde_json::to_value(ErrorCode::NotYetConsistent).unwrap(),
            NOT_YET_CONSISTENT
        );
    }

    #[test]
    fn internal_details_are_logged_not_sent() {
        let response = ApiError::from(Status::internal("password=hunter2")).into_response();
        let report = response.extensions().get::<ErrorReport>().unwrap();
        assert_eq!(report.code, ErrorCode::Internal);
        assert_eq!(report.message, "internal error");
        let response =
            ApiError::from(Status::unavailable("tcp connect error 10.0.0.7")).into_response();
        assert!(
            !response
                .extensions()
                .get::<ErrorReport>()
                .unwrap()
                .message
                .contains("10.0.0.7")
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_timeout_is_a_503_with_retry_after_like_every_passing_failure() {
        let response = ApiError::Timeout("no answer within 5000 ms".into()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let report = response.extensions().get::<ErrorReport>().unwrap();
        assert_eq!(report.code, ErrorCode::Timeout);
    }
}
