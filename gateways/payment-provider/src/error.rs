//! The simulator's one error type and its one HTTP mapping: every refusal is
//! `{"error": {"code": "<snake_case>", "message": "<text>"}}` with its status.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Why a request to the simulator was refused. Each variant's doc says what the caller should
/// do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// 400 `invalid_request`: a malformed body, header or parameter; fix the request as the
    /// message says (the process manager records a refused charge as a declined payment).
    #[error("{0}")]
    InvalidRequest(String),
    /// 404 `not_found`: no such charge (or route).
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`: the route exists with another method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 409 `not_refundable`: the charge cannot be refunded (not succeeded, or the amount
    /// exceeds what is left); do not retry unchanged.
    #[error("{0}")]
    NotRefundable(String),
    /// 413 `payload_too_large`: the body is larger than the limit.
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
}

impl ProviderError {
    /// A 400 about `field`: `"<field> <problem>"`.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::InvalidRequest(format!("{field} {problem}"))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotRefundable(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The machine-readable code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotRefundable(_) => "not_refundable",
            Self::PayloadTooLarge(_) => "payload_too_large",
        }
    }
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        tracing::debug!(error = %self, "request refused");
        let body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        (self.status(), Json(body)).into_response()
    }
}
